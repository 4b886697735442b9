# Shared by the benchmark tables (lib/rounds.sh): reads "i rps p50 p99 errors steal" lines into per-variant lists.
function median(list,   v, n, i, j, t) {
  n = split(list, v, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function thousands(x,   s) { # mawk has no %'d
  s = sprintf("%.0f", x)
  while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
  return s
}
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "–" }
{ rps[$1] = rps[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4; errors[$1] += $5; runs[$1]++
  if ($6 != "" && $6 >= 0) { # a run that reported its steal
    steal[$1] = steal[$1] " " $6
    # Runs the hypervisor left alone (steal under `quiet` %, when the caller passes -v quiet=N).
    if (quiet != "" && $6 < quiet + 0) { quiet_rps[$1] = quiet_rps[$1] " " $2; quiet_runs[$1]++ }
    # For a least-squares line req/s = a + b * steal (fit_at_no_steal).
    fn[$1]++; fx[$1] += $6; fy[$1] += $2; fxy[$1] += $6 * $2; fxx[$1] += $6 * $6
  } }
# The fitted req/s at no steal, or 0 (shown as "–") with fewer than three runs, a steal whose standard deviation is
# under 2.5 points (too short a line to extend), or a line that rises with steal (noise, not a trend).
function fit_at_no_steal(i,   n, d, b) {
  n = fn[i]
  if (n < 3) return 0
  d = n * fxx[i] - fx[i] * fx[i]
  if (d / (n * n) < 6.25) return 0
  b = (n * fxy[i] - fx[i] * fy[i]) / d
  if (b >= 0) return 0
  return (fy[i] - b * fx[i]) / n
}
