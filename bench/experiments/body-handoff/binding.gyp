{
  "targets": [
    {
      "target_name": "body_handoff",
      "sources": ["body_handoff.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O2", "-std=gnu11"]
    }
  ]
}
