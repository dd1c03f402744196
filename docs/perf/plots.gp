# The plots of docs/performance.md, from the CSV files beside this script.
#
#   cd docs/perf && gnuplot plots.gp      (Debian: apt-get install gnuplot-nox)
#
# Writes ../rtt-warm.png, ../rtt-cold.png, ../store-scaling.png,
# ../app-memory.png, ../app-memory-release.png. The CSV files come from the benchmarks (see
# docs/performance.md for the commands).
set datafile separator ","
set terminal pngcairo size 900,520 font "DejaVu Sans,11"
set grid
set key bottom right

# Latency over onion services: empirical CDFs (onion_rtt, KITH_BENCH_CSV).
set output "../rtt-warm.png"
set title "Warm: one message (Kith) or one echo (bare) over onion services, private Tor network"
set xlabel "latency (ms)"
set ylabel "fraction of samples"
set yrange [0:1]
set xrange [0:150]
plot "< grep ^bare_warm, onion-rtt.csv" using 3:(1) smooth cnormal with steps lw 2 title "bare onion-service echo: round trip", \
     "< grep ^kith_warm, onion-rtt.csv" using 3:(1) smooth cnormal with steps lw 2 title "Kith: send → delivered (acknowledged)", \
     "< grep ^kith_warm_one_way, onion-rtt.csv" using 3:(1) smooth cnormal with steps lw 2 dt 2 title "Kith: send → received (one way)", \
     "< grep ^kith_warm, onion-rtt-shm.csv" using 3:(1) smooth cnormal with steps lw 1 dt 3 title "Kith: send → delivered, stores on /dev/shm (no fsync cost)", \
     "< grep ^bare_warm, onion-rtt-shm.csv" using 3:(1) smooth cnormal with steps lw 1 dt 3 title "bare echo, same run as the line above"

set output "../rtt-cold.png"
set title "Cold: a client or node starts and reaches an onion service that is up"
set xlabel "time from start (s)"
set xrange [0:*]
plot "< grep ^bare_cold, onion-rtt.csv" using ($3/1000):(1) smooth cnormal with steps lw 2 title "bare: arti client start → first echo", \
     "< grep ^kith_cold, onion-rtt.csv" using ($3/1000):(1) smooth cnormal with steps lw 2 title "Kith: node start (unlock, online) → first delivered"

# The store against its history (store_scaling, KITH_BENCH_CSV).
set output "../store-scaling.png"
set title "Store reads against history (100 contacts; a tenth of the history in one conversation)"
set xlabel "messages in the profile"
set ylabel "time (ms)"
set logscale xy
set xrange [700:150000]
set yrange [*:*]
set key top left
plot "store-scaling.csv" skip 1 using 1:3 with linespoints lw 2 title "unlock (fast test KDF)", \
     "" skip 1 using 1:4 with linespoints lw 2 title "contact\\_summaries (100 contacts)", \
     "" skip 1 using 1:6 with linespoints lw 2 title "messages of one conversation (a tenth)", \
     "" skip 1 using 1:7 with linespoints lw 2 dt 2 title "baseline: plain SQLite read of the same rows"
unset logscale
set xrange [*:*]

# The app through an hour of chat (scripts/bench-app-memory.sh).
set output "../app-memory.png"
set title "kith-app through an hour of chat (a message every 5 s, an answer every 30 s)"
set xlabel "minutes"
set ylabel "resident memory (MiB)"
set yrange [0:*]
set key bottom right
plot "app-memory.csv" skip 1 using 1:($2/1024) with linespoints lw 2 title "kith-app VmRSS", \
     "" skip 1 using 1:($4/1024) with linespoints lw 2 title "kith-app RssAnon (heap)", \
     "" skip 1 using 1:($6/1024) with linespoints lw 2 title "the contact's kith daemon VmRSS"

# The app's heap through an hour: the old debug build (app-memory.csv) and
# the release build with the conversation laid out in view
# (app-memory-release.csv), same script.
set output "../app-memory-release.png"
set title "kith-app heap (RssAnon) through an hour of chat"
set xlabel "minutes"
set ylabel "MiB"
set yrange [0:*]
set key bottom right
plot "app-memory.csv" skip 1 using 1:($4/1024) with linespoints lw 2 title "before: debug build, every message laid out", \
     "app-memory-release.csv" skip 1 using 1:($4/1024) with linespoints lw 2 title "after: release build, messages in view only", \
     "app-memory-release.csv" skip 1 using 1:($2/1024) with linespoints lw 2 dt 2 title "after: VmRSS"
