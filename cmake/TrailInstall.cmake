# TrailInstall.cmake - what `cmake --install` and `cpack -G DEB` put where (included last by the
# top CMakeLists.txt, once every target exists).
#
# Layout under the prefix (GNUInstallDirs; LIBDIR is lib, or lib/<multiarch> for prefix /usr):
#   bin/trail, bin/traild
#   LIBDIR/libtrail.so{,.0,.0.x.y}        the SDK
#   LIBDIR/libtrail_preload.so            the capture shim; bin/trail finds it at
#                                         bin/TRAIL_LIBDIR_REL/ (agent/run.c, find_preload)
#   include/trail.h
#   LIBDIR/pkgconfig/trail.pc             pkg-config trail
#   LIBDIR/cmake/trail/                   find_package(trail CONFIG) -> trail::trail
#   lib/systemd/system/trail-agent.service
#   share/doc/trail/, share/man/manN/     docs; man pages when they have been generated
include(CMakePackageConfigHelpers)

set(TRAIL_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where the systemd units go (relative to the prefix, or absolute)")

install(TARGETS trail traild RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS trail_sdk EXPORT trailTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS trail_preload LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/sdk/include/trail.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# CMake package: trail::trail, relocatable (paths relative to where the files end up).
set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/trail)
install(EXPORT trailTargets NAMESPACE trail:: DESTINATION ${_cmakedir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/trailConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/trailConfig.cmake INSTALL_DESTINATION ${_cmakedir}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/trailConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/trailConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/trailConfigVersion.cmake DESTINATION ${_cmakedir})

# trail.pc and the systemd unit name absolute paths, so they are written when the prefix is
# known: at install time (`cmake --install --prefix P`, DESTDIR and cpack included).
install(CODE "
  set(TRAIL_SRC \"${PROJECT_SOURCE_DIR}\")
  set(TRAIL_BIN_DIR \"${CMAKE_BINARY_DIR}\")
  set(TRAIL_VERSION \"${PROJECT_VERSION}\")
  set(TRAIL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(TRAIL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(TRAIL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(TRAIL_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(TRAIL_MANDIR \"${CMAKE_INSTALL_MANDIR}\")
  set(TRAIL_UNITDIR \"${TRAIL_SYSTEMD_UNITDIR}\")
  set(TRAIL_SYSTEM_LIBDIRS \"${CMAKE_C_IMPLICIT_LINK_DIRECTORIES}\")
")
install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/install_configured.cmake)

install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/collector.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Debian package: `make package` (or `cpack -G DEB` in a build directory).
set(CPACK_PACKAGE_NAME trail)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "metadata store and logging agent for machine-learning jobs")
set(CPACK_PACKAGE_CONTACT "trail maintainers <trail@localhost>")
set(CPACK_GENERATOR DEB)
# The package installs to the configured prefix (`make package` configures /usr); the install
# scripts write absolute paths from CMAKE_INSTALL_PREFIX, so it is staged with DESTDIR.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_SET_DESTDIR ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dlopen'ed by the shim for crash backtraces, so dpkg-shlibdeps cannot see it; libpq5 is
# dlopen'ed by the store for postgresql:// stores.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libunwind8")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5")
include(CPack)
