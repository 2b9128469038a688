{
  # Native addon for sending gratuitous ARP frames on an AF_PACKET socket (native/packet_socket.c).
  # `npm install` builds it (npm runs `node-gyp rebuild` when a binding.gyp is at the package root);
  # the agent falls back to iputils `arping` when build/Release/packet_socket.node is missing.
  "targets": [
    {
      "target_name": "packet_socket",
      "sources": ["native/packet_socket.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
