// Embedded copy of Dynamic-OFA's six runtime levels for the w1.2 OFA MobileNetV3 supernet, used
// when the shared data folder is absent. Source: UoS-EEC/DynamicOFA,
// runtime_demo/runtime_adjustment/nets_6.pickle (converted to JSON as
// ../shared/data/dynamic_ofa/nets_6_levels.json). "top1_percent" is the ImageNet top-1 the
// Dynamic-OFA authors recorded with the released weights and per-level BN statistics;
// "latency_ms" is their recorded latency on a Jetson Xavier NX GPU (latency rounded to 1 us here).
// Published figures, quoted; dynn does not measure them.
#pragma once

namespace demo {

inline const char* kEmbeddedNets6Levels = R"JSON({
  "supernet": "ofa_mbv3_d234_e346_k357_w1.2",
  "source": "UoS-EEC/DynamicOFA runtime_demo/runtime_adjustment/nets_6.pickle (embedded copy in dynn)",
  "levels": [
    {"level":0,"arch":{"ks":[5,7,7,7,3,5,5,7,7,7,5,3,5,3,3,7,3,3,7,7],"e":[6,4,4,6,4,3,6,4,6,4,4,6,4,6,4,6,4,3,3,4],"d":[3,2,3,2,2],"r":176},"top1_percent":74.202,"latency_ms":41.159},
    {"level":1,"arch":{"ks":[7,3,5,7,7,3,5,7,5,7,5,3,5,3,3,5,3,3,3,7],"e":[6,4,4,4,4,6,6,6,3,3,4,6,4,6,6,3,4,3,3,3],"d":[3,2,3,3,2],"r":176},"top1_percent":74.968,"latency_ms":45.421},
    {"level":2,"arch":{"ks":[5,5,7,3,7,7,7,3,7,7,7,5,7,7,7,3,7,7,7,7],"e":[3,4,3,4,4,4,4,3,4,4,3,3,4,4,4,4,4,4,4,4],"d":[3,3,3,3,3],"r":192},"top1_percent":76.134,"latency_ms":49.436},
    {"level":3,"arch":{"ks":[7,3,5,3,5,7,3,3,5,5,5,7,7,7,5,5,3,3,3,7],"e":[6,6,3,3,4,4,3,3,6,4,4,4,6,4,4,6,4,6,3,3],"d":[2,3,3,3,4],"r":208},"top1_percent":77.54,"latency_ms":51.079},
    {"level":4,"arch":{"ks":[5,3,3,7,7,3,3,3,7,5,3,5,7,5,7,3,7,7,5,7],"e":[6,6,4,3,4,6,6,3,4,6,3,4,6,6,6,6,4,4,4,6],"d":[2,4,4,4,3],"r":224},"top1_percent":78.346,"latency_ms":56.747},
    {"level":5,"arch":{"ks":[5,5,5,5,5,7,7,3,5,7,7,7,7,7,5,5,7,5,5,5],"e":[6,6,6,6,6,6,4,6,6,4,6,6,6,6,6,6,6,6,6,3],"d":[4,4,4,4,4],"r":224},"top1_percent":79.03,"latency_ms":61.735}
  ]
})JSON";

}  // namespace demo
