# Install rules and the CMake package (dynnConfig.cmake + exported targets).
#
# One export set per component, so a consumer loads (and finds the dependencies of) only what it
# asks for: find_package(dynn COMPONENTS core) needs no LibTorch.
#   core   -> dynn::core   (dynnCoreTargets.cmake)
#   dynn   -> dynn::dynn   (dynnTorchTargets.cmake; needs Torch on the consumer's prefix path)
#   dynn_c -> dynn::dynn_c (dynnCTargets.cmake; libdynn_c.so, no CMake dependencies)
include(CMakePackageConfigHelpers)

set(DYNN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/dynn")

set(_dynn_exports core:dynn_core:dynnCoreTargets)
set(DYNN_CONFIG_COMPONENTS core)
if(DYNN_WITH_TORCH)
  list(APPEND _dynn_exports dynn:dynn_torch:dynnTorchTargets dynn_c:dynn_c:dynnCTargets)
  list(APPEND DYNN_CONFIG_COMPONENTS dynn dynn_c)
endif()

foreach(_e ${_dynn_exports})
  string(REPLACE ":" ";" _e "${_e}")
  list(GET _e 1 _target)
  list(GET _e 2 _export)
  install(TARGETS ${_target} EXPORT ${_export}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT ${_export} NAMESPACE dynn:: DESTINATION ${DYNN_INSTALL_CMAKEDIR})
  export(EXPORT ${_export} NAMESPACE dynn:: FILE "${PROJECT_BINARY_DIR}/${_export}.cmake")
endforeach()

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/dynn" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${DYNN_GENERATED_INCLUDE_DIR}/dynn/version_config.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dynn)
if(DYNN_WITH_TORCH)
  install(FILES "${PROJECT_SOURCE_DIR}/capi/include/dynn/dynn.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dynn)
endif()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/dynnConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/dynnConfig.cmake" INSTALL_DESTINATION ${DYNN_INSTALL_CMAKEDIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/dynnConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/dynnConfig.cmake" "${PROJECT_BINARY_DIR}/dynnConfigVersion.cmake"
  DESTINATION ${DYNN_INSTALL_CMAKEDIR})
