# Small helpers shared by dynn's CMake files.

# dynn_warnings(<target>): the warning set for dynn's own code.
function(dynn_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
  if(DYNN_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# dynn_add_program(<name> <sources>... LIBS <libs>...): an example or tool binary in
# ${PROJECT_BINARY_DIR}/bin, with dynn's warnings and DYNN_SHARED_DIR_DEFAULT (for its defaults).
function(dynn_add_program name)
  cmake_parse_arguments(P "" "" "LIBS" ${ARGN})
  add_executable(${name} ${P_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${P_LIBS} ${DYNN_FMT_TARGET})
  target_compile_definitions(${name} PRIVATE DYNN_SHARED_DIR_DEFAULT="${DYNN_SHARED_DIR}")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  dynn_warnings(${name})
endfunction()
