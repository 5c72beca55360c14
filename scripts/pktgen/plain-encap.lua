-- pktgen profile: plain-encap through vtepd (see README.md in this folder).
-- Port 1 sends the generated pcap given with -s 1:FILE.pcap, port 0 receives what vtepd forwards.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "replay.lua").run("plain-encap", { tx = "1", rx = "0" })
