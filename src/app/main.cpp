#include "app/commands.hpp"

int main(int argc, char** argv) {
  return btrt::app::main(argc, argv);
}
