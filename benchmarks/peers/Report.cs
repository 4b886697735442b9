using System.Diagnostics;
using System.Globalization;

/// <summary>The load generator's JSON line, shared by the .NET peers (linked into each project).</summary>
internal static class Report
{
    /// <summary>
    /// The same fields, in the same order, as <c>courier bench --json</c>; percentiles are the smallest latency that
    /// that share of requests did not exceed, as HdrHistogram reports them.
    /// </summary>
    public static string Json(IEnumerable<List<long>> latencyTicks, long errors, double seconds)
    {
        var all = latencyTicks.SelectMany(l => l).Order().ToArray();
        long Us(double percent)
        {
            if (all.Length == 0)
            {
                return 0;
            }

            var rank = Math.Clamp((long)Math.Ceiling(percent / 100 * all.Length), 1, all.Length);
            return (long)Math.Round(all[rank - 1] * 1e6 / Stopwatch.Frequency);
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"{{\"requests\":{all.Length},\"errors\":{errors},\"seconds\":{seconds:0.###},\"rps\":{all.Length / seconds:0},\"p50_us\":{Us(50)},\"p90_us\":{Us(90)},\"p99_us\":{Us(99)},\"p999_us\":{Us(99.9)},\"max_us\":{Us(100)}}}");
    }
}
