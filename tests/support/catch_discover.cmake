# cmake -DEXE=<Catch2 test binary> -DPREFIX=<name prefix> -DLABELS=<labels> -DSHARED_DIR=<dir>
#       -DWORKDIR=<dir> -DOUT=<ctest file> -P catch_discover.cmake
# Runs after each build of EXE (tests/CMakeLists.txt): lists its test cases and writes one add_test
# per case into OUT, which CTest includes. Catch2's own catch_discover_tests splits names at ';' and
# so registers filters that match nothing; here names travel as bracket arguments, whole.
# Cases tagged [shared] get the label "shared" and DYNN_SHARED_DIR in their environment.

# Test case names of EXE matching <spec>, in LIST_VAR (';' inside names kept, escaped as \;).
function(list_cases spec list_var)
  execute_process(COMMAND "${EXE}" ${spec} --list-test-names-only
    OUTPUT_VARIABLE out RESULT_VARIABLE rc WORKING_DIRECTORY "${WORKDIR}")
  if(NOT rc MATCHES "^[0-9]+$")  # Catch2 exits with the number of cases listed
    message(FATAL_ERROR "listing the test cases of ${EXE} failed: ${rc}\n${out}")
  endif()
  string(REPLACE ";" "\\;" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  set(names "")
  foreach(line IN LISTS lines)
    if(NOT line STREQUAL "")
      string(REPLACE ";" "\\;" line "${line}")
      list(APPEND names "${line}")
    endif()
  endforeach()
  set(${list_var} "${names}" PARENT_SCOPE)
endfunction()

list_cases("" all)
list_cases("[shared]" shared)
if(NOT all)
  message(FATAL_ERROR "${EXE} lists no test cases")
endif()

set(script "")
foreach(name IN LISTS all)
  # Catch2's test spec reads ',' as "or", '[' ']' as tags and '\' as escape: escape them.
  set(spec "${name}")
  foreach(c "\\" "," "[" "]")
    string(REPLACE "${c}" "\\${c}" spec "${spec}")
  endforeach()
  set(labels "${LABELS}")
  set(env "")
  list(FIND shared "${name}" at)
  if(NOT at EQUAL -1)
    set(labels "${LABELS};shared")
    set(env "ENVIRONMENT [==[DYNN_SHARED_DIR=${SHARED_DIR}]==]")
  endif()
  string(APPEND script
    "add_test([==[${PREFIX}${name}]==] [==[${EXE}]==] [==[${spec}]==] --warn NoAssertions)\n"
    "set_tests_properties([==[${PREFIX}${name}]==] PROPERTIES LABELS \"${labels}\" SKIP_RETURN_CODE 77"
    " WORKING_DIRECTORY [==[${WORKDIR}]==] ${env})\n")
endforeach()
file(WRITE "${OUT}.tmp" "${script}")
file(RENAME "${OUT}.tmp" "${OUT}")
