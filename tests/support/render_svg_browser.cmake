# Loads SVG files as images in a headless browser (Chromium) and checks each decodes at the size
# its root element declares; a malformed file fails to load (the page reports "error"). Run as
#   cmake -DBROWSER=<chromium or empty> -DOUT=<dir> -DSVGS="a.svg;b.svg" -P render_svg_browser.cmake
# Without a browser it prints a SKIP line naming the package (the test's SKIP_REGULAR_EXPRESSION).
if(NOT BROWSER)
  message("SKIP: chromium not found (apt-get install chromium, or run cmake/install-deps.sh)")
  return()
endif()
file(MAKE_DIRECTORY "${OUT}")
set(imgs "")
set(want "")
set(i 0)
foreach(svg IN LISTS SVGS)
  if(NOT EXISTS "${svg}")
    message(FATAL_ERROR "no SVG at ${svg} (the test that writes it did not run)")
  endif()
  # The size the file declares on its root element: what the browser must decode it at.
  file(READ "${svg}" head LIMIT 600)
  if(NOT head MATCHES "<svg[^>]* width=\"([0-9]+)\"[^>]* height=\"([0-9]+)\"")
    message(FATAL_ERROR "${svg}: no width/height on the <svg> root element")
  endif()
  list(APPEND want "i${i}:${CMAKE_MATCH_1}x${CMAKE_MATCH_2}")
  string(APPEND imgs "<img id=\"i${i}\" src=\"file://${svg}\">\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}/svgs.html" "<!doctype html><html><head><title>pending</title></head><body>\n${imgs}<script>
window.addEventListener('load', function () {
  var r = [];
  for (const im of document.images) r.push(im.id + ':' + (im.complete && im.naturalWidth > 0 ? im.naturalWidth + 'x' + im.naturalHeight : 'error'));
  document.title = r.join(' ');
});
</script></body></html>\n")
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
execute_process(COMMAND "${BROWSER}" --headless --no-sandbox --disable-gpu --allow-file-access-from-files
                        "--user-data-dir=${OUT}/profile" --dump-dom "file://${OUT}/svgs.html"
                RESULT_VARIABLE rc OUTPUT_VARIABLE dom ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BROWSER} failed (${rc}): ${err}")
endif()
if(NOT dom MATCHES "<title>([^<]*)</title>")
  message(FATAL_ERROR "the browser's page has no title: ${dom}")
endif()
string(REPLACE " " ";" got "${CMAKE_MATCH_1}")
if(NOT got STREQUAL want)
  message(FATAL_ERROR "decoded in the browser as '${got}', the files declare '${want}' (SVGS: ${SVGS})")
endif()
message(STATUS "rendered in ${BROWSER}: ${got}")
