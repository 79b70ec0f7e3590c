# install_configured.cmake - install-time step: trail.pc, the systemd units and any generated man
# pages, with the paths of the prefix actually installed to (run by `cmake --install`).
foreach(_d BINDIR LIBDIR INCLUDEDIR DOCDIR MANDIR UNITDIR)
  if(IS_ABSOLUTE "${TRAIL_${_d}}")
    set(_full_${_d} "${TRAIL_${_d}}")
  else()
    set(_full_${_d} "${CMAKE_INSTALL_PREFIX}/${TRAIL_${_d}}")
  endif()
endforeach()
set(_out "${TRAIL_BIN_DIR}/cmake/installed")
file(MAKE_DIRECTORY "${_out}")

# pkg-config: a client linked with `pkg-config --libs trail` finds libtrail.so.0 at run time by
# its RUNPATH, unless the library lives in a directory the loader searches anyway.
set(TRAIL_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(TRAIL_PC_LIBDIR "${_full_LIBDIR}")
set(TRAIL_PC_INCLUDEDIR "${_full_INCLUDEDIR}")
set(TRAIL_PC_RPATH " -Wl,-rpath,\${libdir}")
list(FIND TRAIL_SYSTEM_LIBDIRS "${_full_LIBDIR}" _system)
if(NOT _system EQUAL -1)
  set(TRAIL_PC_RPATH "")
endif()
set(PROJECT_VERSION "${TRAIL_VERSION}")
configure_file("${TRAIL_SRC}/cmake/trail.pc.in" "${_out}/trail.pc" @ONLY)
file(INSTALL DESTINATION "${_full_LIBDIR}/pkgconfig" TYPE FILE FILES "${_out}/trail.pc")

# systemd units: the examples name /usr/local/bin and /usr/share/doc/trail; point them at this
# prefix's copies.
file(GLOB _units "${TRAIL_SRC}/examples/*.service")
foreach(_u IN LISTS _units)
  get_filename_component(_name "${_u}" NAME)
  file(READ "${_u}" _text)
  string(REPLACE "/usr/local/bin/" "${_full_BINDIR}/" _text "${_text}")
  string(REPLACE "/usr/share/doc/trail/" "${_full_DOCDIR}/" _text "${_text}")
  file(WRITE "${_out}/${_name}" "${_text}")
  file(INSTALL DESTINATION "${_full_UNITDIR}" TYPE FILE FILES "${_out}/${_name}")
endforeach()

# Man pages, if something has generated them by now: NAME.N under build/man/ or man/.
file(GLOB _pages "${TRAIL_BIN_DIR}/man/*.[1-9]" "${TRAIL_SRC}/man/*.[1-9]")
foreach(_p IN LISTS _pages)
  string(REGEX REPLACE ".*\\.([1-9])$" "\\1" _sec "${_p}")
  file(INSTALL DESTINATION "${_full_MANDIR}/man${_sec}" TYPE FILE FILES "${_p}")
endforeach()
