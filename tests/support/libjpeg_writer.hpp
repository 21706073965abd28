// Test JPEGs written with libjpeg's own compressor, for what dynn::encode_jpeg (TurboJPEG's tj* API)
// does not write: odd sampling factors (which the tj* API refuses to decode), progressive scans,
// CMYK. Shared by the image tests and the image fuzz harness (no Catch2 here).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include <jpeglib.h>
#include <turbojpeg.h>

namespace dynn::test {

// A w x h image with `components` channels in colour space cs, a deterministic pattern with
// gradients and edges; samp: per-component (h, v) sampling factors, or null for libjpeg's defaults.
inline std::vector<uint8_t> libjpeg_encode(int w, int h, int components, J_COLOR_SPACE cs, const int (*samp)[2], bool progressive,
                                           int quality = 90) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = components;
  c.in_color_space = cs;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (samp)
    for (int i = 0; i < components; ++i) {
      c.comp_info[i].h_samp_factor = samp[i][0];
      c.comp_info[i].v_samp_factor = samp[i][1];
    }
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(w) * static_cast<size_t>(components));
  while (c.next_scanline < c.image_height) {
    const int y = static_cast<int>(c.next_scanline);
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < components; ++ch) {
        const int v = ch == 0 ? x * 7 + y * 3 : ch == 1 ? x * x + y : ch == 2 ? ((x / 8 + y / 8) % 2) * 200 : x + y * 5;
        row[static_cast<size_t>(x * components + ch)] = static_cast<uint8_t>(v & 255);
      }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// True when TurboJPEG's tj* API cannot read the header (the case the libjpeg fallback exists for).
inline bool tj_header_refuses(const std::vector<uint8_t>& jpg) {
  tjhandle h = tjInitDecompress();
  int w = 0, hh = 0, ss = 0, cs = 0;
  const int rc = tjDecompressHeader3(h, const_cast<unsigned char*>(jpg.data()), static_cast<unsigned long>(jpg.size()), &w, &hh, &ss, &cs);
  tjDestroy(h);
  return rc != 0;
}

}  // namespace dynn::test
