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

# dynn_add_svg_tests(<prefix> OUT <dir> FIXTURE <fixture> LABELS <labels>... SVGS <files>...):
# <prefix>_renders (librsvg renders each SVG to PNG) and <prefix>_browser (each loads in headless
# Chromium at its declared size), after the tests that set up FIXTURE; each is skipped, naming the
# package, when its tool is missing.
function(dynn_add_svg_tests prefix)
  cmake_parse_arguments(ARG "" "OUT;FIXTURE" "LABELS;SVGS" ${ARGN})
  find_program(DYNN_RSVG_CONVERT rsvg-convert)
  find_program(DYNN_CHROMIUM NAMES chromium chromium-browser)
  string(REPLACE ";" "$<SEMICOLON>" svgs "${ARG_SVGS}")
  add_test(NAME ${prefix}_renders
           COMMAND ${CMAKE_COMMAND} -DRSVG=${DYNN_RSVG_CONVERT} -DOUT=${ARG_OUT}/svg-render "-DSVGS=${svgs}"
                   -P ${PROJECT_SOURCE_DIR}/tests/support/render_svg.cmake)
  add_test(NAME ${prefix}_browser
           COMMAND ${CMAKE_COMMAND} -DBROWSER=${DYNN_CHROMIUM} -DOUT=${ARG_OUT}/svg-browser "-DSVGS=${svgs}"
                   -P ${PROJECT_SOURCE_DIR}/tests/support/render_svg_browser.cmake)
  set_tests_properties(${prefix}_renders PROPERTIES LABELS "${ARG_LABELS}" FIXTURES_REQUIRED ${ARG_FIXTURE}
                       SKIP_REGULAR_EXPRESSION "SKIP: rsvg-convert")
  set_tests_properties(${prefix}_browser PROPERTIES LABELS "${ARG_LABELS}" FIXTURES_REQUIRED ${ARG_FIXTURE}
                       SKIP_REGULAR_EXPRESSION "SKIP: chromium")
endfunction()
