# Install rules and the CMake package (dynnConfig.cmake + exported targets).
include(CMakePackageConfigHelpers)

set(DYNN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/dynn")
set(_targets dynn_core)
if(DYNN_WITH_TORCH)
  list(APPEND _targets dynn_torch dynn_c)
endif()

install(TARGETS ${_targets} EXPORT dynnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/dynn" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(DYNN_WITH_TORCH)
  install(FILES "${PROJECT_SOURCE_DIR}/capi/include/dynn/dynn.h" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dynn)
endif()
install(EXPORT dynnTargets NAMESPACE dynn:: DESTINATION ${DYNN_INSTALL_CMAKEDIR})
export(EXPORT dynnTargets NAMESPACE dynn:: FILE "${PROJECT_BINARY_DIR}/dynnTargets.cmake")

set(DYNN_CONFIG_WITH_TORCH ${DYNN_WITH_TORCH})
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/dynnConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/dynnConfig.cmake" INSTALL_DESTINATION ${DYNN_INSTALL_CMAKEDIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/dynnConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/dynnConfig.cmake" "${PROJECT_BINARY_DIR}/dynnConfigVersion.cmake"
  DESTINATION ${DYNN_INSTALL_CMAKEDIR})
