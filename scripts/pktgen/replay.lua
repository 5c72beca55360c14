-- Shared by the vtepd profiles in this folder (see README.md): replays the pcap loaded on the
-- TX port with `-s P:file.pcap` at a given rate, and reports what came back on the RX port,
-- averaging pktgen's per-second rate counters over a window after a warm-up.
--
-- Environment (all optional):
--   PG_TX_PORT    port that sends the pcap          (profile's default)
--   PG_RX_PORT    port that receives vtepd's output (profile's default)
--   PG_RATE       percent of the TX port's line rate (100)
--   PG_WARMUP_MS  traffic before measuring           (2000)
--   PG_WINDOW_S   seconds measured                   (10)
--   PG_RESULTS    file the result line is appended to (vtepd-pktgen-results.txt)
--   PG_QUIT       "no" keeps pktgen running afterwards ("yes")

local M = {}

local function env(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    return v
end

function M.run(profile, defaults)
    local tx = env("PG_TX_PORT", defaults.tx)
    local rx = env("PG_RX_PORT", defaults.rx)
    local rate = tonumber(env("PG_RATE", "100"))
    local warmup = tonumber(env("PG_WARMUP_MS", "2000"))
    local window = tonumber(env("PG_WINDOW_S", "10"))
    local results = env("PG_RESULTS", "vtepd-pktgen-results.txt")

    pktgen.screen("off")
    pktgen.stop("all")
    pktgen.set(tx, "count", 0)        -- send until stopped
    pktgen.set(tx, "rate", rate)
    pktgen.pcap(tx, "on")             -- the file given with -s tx:file.pcap
    pktgen.clr()
    pktgen.start(tx)
    pktgen.delay(warmup)

    -- pktgen refreshes its rate counters once a second: average one sample per second.
    local sums = { tx_pps = 0, rx_pps = 0, tx_mbps = 0, rx_mbps = 0 }
    for _ = 1, window do
        pktgen.delay(1000)
        local t = pktgen.portStats(tx, "rate")[tonumber(tx)]
        local r = pktgen.portStats(rx, "rate")[tonumber(rx)]
        sums.tx_pps = sums.tx_pps + t.opackets
        sums.rx_pps = sums.rx_pps + r.ipackets
        sums.tx_mbps = sums.tx_mbps + t.mbits_tx
        sums.rx_mbps = sums.rx_mbps + r.mbits_rx
    end
    pktgen.stop(tx)
    pktgen.delay(500)

    local line = string.format(
        "%s %s tx port %s: %.3f Mpps %.0f Mb/s, rx port %s: %.3f Mpps %.0f Mb/s, delivered %.2f%% (rate %s%%, %d s window)",
        os.date("!%Y-%m-%dT%H:%M:%SZ"), profile, tx, sums.tx_pps / window / 1e6, sums.tx_mbps / window,
        rx, sums.rx_pps / window / 1e6, sums.rx_mbps / window,
        sums.tx_pps > 0 and 100 * sums.rx_pps / sums.tx_pps or 0, tostring(rate), window)
    print(line)
    local f = io.open(results, "a")
    if f then
        f:write(line .. "\n")
        f:close()
    end
    if env("PG_QUIT", "yes") == "yes" then
        pktgen.quit()
    end
end

return M
