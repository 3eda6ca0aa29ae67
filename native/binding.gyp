{
  "targets": [
    {
      "target_name": "wharf_sha",
      "sources": ["src/sha.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O3", "-std=gnu11", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-std=gnu11"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "Optimization": 2 }
      }
    },
    {
      "target_name": "wharf_io",
      "sources": ["src/sendfile.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-std=gnu11"]
      }
    }
  ]
}
