# Installation layout (docs/operations.md, "Installation") and the .deb/.rpm packages (CPack). With the default prefix
# /usr, GNUInstallDirs puts the configuration in /etc and the state in /var.
include(GNUInstallDirs)

set(BTRT_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/btrt)
set(BTRT_LOG_DIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log/btrt)
set(BTRT_STATE_DIR ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/btrt)
# systemd's own directory for units of packages, on Debian and Fedora alike.
# Relative, so that CPack RPM does not take it for a configuration file.
set(BTRT_UNIT_DIR lib/systemd/system)
set(BTRT_PACKAGING_OUT ${PROJECT_BINARY_DIR}/packaging)

set(BTRT_FULL_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/${BTRT_UNIT_DIR})
install(TARGETS btrt RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/etc/btrt.conf.default ${PROJECT_SOURCE_DIR}/etc/local_cidrs.conf
              ${PROJECT_SOURCE_DIR}/etc/neighboring_cidrs.conf
        DESTINATION ${BTRT_CONF_DIR})
# The MySQL scripts are the operator's (`mysql ... < /etc/btrt/btrt.db_creation.sql`); SQLite
# needs none, btrt creates its schema itself. Upgrades go beside the creation script.
install(FILES ${PROJECT_SOURCE_DIR}/sql/mysql/btrt.db_creation.sql DESTINATION ${BTRT_CONF_DIR})
file(GLOB btrt_upgrade_scripts CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/sql/mysql/upgrade/*.sql)
foreach(script IN LISTS btrt_upgrade_scripts)
  get_filename_component(name ${script} NAME)
  install(FILES ${script} DESTINATION ${BTRT_CONF_DIR} RENAME btrt.db_upgrade_${name})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_CURRENT_LIST_DIR}/nftables/btrt-intercept.nft DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# Manual pages, gzipped as Debian and Fedora ship them. btrt.conf(5) is generated from the
# configuration loader's key tables, printed by btrt_config_reference, with the prose of
# docs/operations.md (see packaging/man/btrt_conf5.py), so that it has every key btrt accepts.
# The distribution's interpreter (standard library only), not one a user's PATH puts first.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python3 3.8 REQUIRED COMPONENTS Interpreter)
set(BTRT_MAN_OUT ${BTRT_PACKAGING_OUT}/man)
configure_file(${CMAKE_CURRENT_LIST_DIR}/man/btrt.8.in ${BTRT_MAN_OUT}/btrt.8 @ONLY)
add_custom_command(
  OUTPUT ${BTRT_MAN_OUT}/btrt.conf.keys
  COMMAND sh -c "\"$1\" > \"$2\"" sh $<TARGET_FILE:btrt_config_reference>
          ${BTRT_MAN_OUT}/btrt.conf.keys
  DEPENDS btrt_config_reference
  VERBATIM)
add_custom_command(
  OUTPUT ${BTRT_MAN_OUT}/btrt.conf.5
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/man/btrt_conf5.py
          --keys ${BTRT_MAN_OUT}/btrt.conf.keys
          --source ${PROJECT_SOURCE_DIR}/docs/operations.md --version ${PROJECT_VERSION}
          --output ${BTRT_MAN_OUT}/btrt.conf.5
  DEPENDS ${CMAKE_CURRENT_LIST_DIR}/man/btrt_conf5.py ${PROJECT_SOURCE_DIR}/docs/operations.md
          ${BTRT_MAN_OUT}/btrt.conf.keys
  COMMENT "Generating btrt.conf(5) from the configuration loader's key tables"
  VERBATIM)
set(btrt_man_pages)
foreach(page btrt.8 btrt.conf.5)
  # -n: no name or time stamp in the archive, so that builds are reproducible.
  add_custom_command(
    OUTPUT ${BTRT_MAN_OUT}/${page}.gz
    COMMAND sh -c "gzip -9 -n -c \"$1\" > \"$1.gz\"" sh ${BTRT_MAN_OUT}/${page}
    DEPENDS ${BTRT_MAN_OUT}/${page}
    VERBATIM)
  list(APPEND btrt_man_pages ${BTRT_MAN_OUT}/${page}.gz)
endforeach()
add_custom_target(btrt_man ALL DEPENDS ${btrt_man_pages})
install(FILES ${BTRT_MAN_OUT}/btrt.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${BTRT_MAN_OUT}/btrt.conf.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/bash-completion/btrt
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# Monitoring: Prometheus rules and a Grafana dashboard, to copy and adapt.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/prometheus/btrt-alerts.yml
              ${CMAKE_CURRENT_LIST_DIR}/grafana/btrt.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

configure_file(${CMAKE_CURRENT_LIST_DIR}/btrt.service.in ${BTRT_PACKAGING_OUT}/btrt.service @ONLY)
install(FILES ${BTRT_PACKAGING_OUT}/btrt.service DESTINATION ${BTRT_UNIT_DIR})
install(DIRECTORY DESTINATION ${BTRT_LOG_DIR})
install(DIRECTORY DESTINATION ${BTRT_STATE_DIR})

# Maintainer scripts: each is a template with the shared functions pasted in.
file(READ ${CMAKE_CURRENT_LIST_DIR}/common.sh.in BTRT_COMMON)
string(CONFIGURE "${BTRT_COMMON}" BTRT_COMMON @ONLY)
function(btrt_script template output)
  configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${template} ${BTRT_PACKAGING_OUT}/${output}
                 @ONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                        GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endfunction()
foreach(script postinst prerm postrm)
  btrt_script(deb/${script}.in deb/${script})
endforeach()
foreach(script pre post preun postun)
  btrt_script(rpm/${script}.sh.in rpm/${script}.sh)
endforeach()
# The CIDR files are the operator's to edit: an upgrade must keep them. The template and
# the SQL scripts are ours and are replaced.
file(WRITE ${BTRT_PACKAGING_OUT}/deb/conffiles
     "${BTRT_CONF_DIR}/local_cidrs.conf\n${BTRT_CONF_DIR}/neighboring_cidrs.conf\n")

set(CPACK_PACKAGE_NAME btrt)
set(CPACK_PACKAGE_VENDOR "btrt")
set(CPACK_PACKAGE_CONTACT "btrt maintainers <btrt@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "An HTTP BitTorrent tracker that keeps traffic inside a provider's network: it hands out \
the peers of the operator's own networks first, then partners', then the others.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB RPM)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Linked libraries come from dpkg-shlibdeps; SOCI opens its database backends at run time,
# so those two are named here (and c-ares, the resolver, although dpkg-shlibdeps finds it too).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libsoci-sqlite3-4.0, libsoci-mysql4.0, libc-ares2, passwd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mariadb-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${BTRT_PACKAGING_OUT}/deb/postinst ${BTRT_PACKAGING_OUT}/deb/prerm
    ${BTRT_PACKAGING_OUT}/deb/postrm ${BTRT_PACKAGING_OUT}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Proprietary")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
# rpmbuild finds the linked libraries (by so-name) itself; SOCI's run-time backends and the
# user tools are named as Fedora/RHEL call them.
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_PACKAGE_REQUIRES "soci-sqlite3, soci-mysql, c-ares, shadow-utils, systemd")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${BTRT_PACKAGING_OUT}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${BTRT_PACKAGING_OUT}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${BTRT_PACKAGING_OUT}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${BTRT_PACKAGING_OUT}/rpm/postun.sh)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# CPack RPM makes every file with an absolute destination %config unless listed here (each
# entry needs a directive); only the CIDR files are the operator's. The directories belong
# to the user that %pre creates.
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) ${BTRT_CONF_DIR}/local_cidrs.conf"
    "%config(noreplace) ${BTRT_CONF_DIR}/neighboring_cidrs.conf"
    "%attr(0644,root,root) ${BTRT_CONF_DIR}/btrt.conf.default"
    "%attr(0644,root,root) ${BTRT_CONF_DIR}/btrt.db_creation.sql"
    "%dir %attr(0750,btrt,btrt) ${BTRT_LOG_DIR}/" "%dir %attr(0755,btrt,btrt) ${BTRT_STATE_DIR}/")
foreach(script IN LISTS btrt_upgrade_scripts)
  get_filename_component(name ${script} NAME)
  list(APPEND CPACK_RPM_USER_FILELIST "%attr(0644,root,root) ${BTRT_CONF_DIR}/btrt.db_upgrade_${name}")
endforeach()
# Directories the distribution's own packages own.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    ${CMAKE_INSTALL_FULL_SBINDIR} ${CMAKE_INSTALL_PREFIX}/lib/systemd ${BTRT_FULL_UNIT_DIR}
    ${CMAKE_INSTALL_FULL_LOCALSTATEDIR} ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log
    ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib ${CMAKE_INSTALL_PREFIX}/share/doc ${BTRT_LOG_DIR}
    ${BTRT_STATE_DIR} ${CMAKE_INSTALL_FULL_MANDIR} ${CMAKE_INSTALL_FULL_MANDIR}/man5
    ${CMAKE_INSTALL_FULL_MANDIR}/man8 ${CMAKE_INSTALL_FULL_DATADIR}/bash-completion
    ${CMAKE_INSTALL_FULL_DATADIR}/bash-completion/completions)

include(CPack)
