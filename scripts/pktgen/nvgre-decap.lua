-- pktgen profile: nvgre-decap through vtepd (see README.md in this folder).
-- Port 0 sends the generated pcap given with -s 0:FILE.pcap, port 1 receives what vtepd forwards.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "replay.lua").run("nvgre-decap", { tx = "0", rx = "1" })
