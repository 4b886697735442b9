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
  if ($6 != "" && $6 >= 0) steal[$1] = steal[$1] " " $6
  # Runs the hypervisor left alone (steal under `quiet` %, when the caller passes -v quiet=N).
  if (quiet != "" && $6 != "" && $6 >= 0 && $6 < quiet + 0) { quiet_rps[$1] = quiet_rps[$1] " " $2; quiet_runs[$1]++ } }
