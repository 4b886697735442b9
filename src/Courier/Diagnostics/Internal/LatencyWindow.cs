using System.Diagnostics;
using System.Numerics;

namespace Courier.Diagnostics.Internal;

/// <summary>
/// Recent latencies of one service, for <c>mmi.stats</c> (what <c>courier top</c> shows): a log-scale histogram with four
/// buckets per power of two of microseconds (a value is placed within 25 %), over the current window and the one
/// before (rotated every few seconds, so percentiles cover the last 5 to 10 s). Fixed size: 2 × 128 counts. Loop thread only.
/// </summary>
internal sealed class LatencyWindow
{
    private const int Buckets = 128;
    private int[] _current = new int[Buckets];
    private int[] _previous = new int[Buckets];

    public void Record(long stopwatchTicks)
    {
        var micros = (ulong)Math.Clamp(stopwatchTicks * (1_000_000.0 / Stopwatch.Frequency), 0, 1e15);
        _current[Bucket(micros)]++;
    }

    /// <summary>Starts a new window; the one that ends is kept as the previous.</summary>
    public void Rotate()
    {
        (_previous, _current) = (_current, _previous);
        Array.Clear(_current);
    }

    public long Count => _current.Sum() + (long)_previous.Sum();

    /// <summary>The <paramref name="quantile"/> (0–1) in milliseconds, or null with no samples.</summary>
    public double? Percentile(double quantile)
    {
        var count = Count;
        if (count == 0)
        {
            return null;
        }

        var rank = (long)Math.Ceiling(quantile * count);
        long seen = 0;
        for (var b = 0; b < Buckets; b++)
        {
            seen += _current[b] + _previous[b];
            if (seen >= rank && seen > 0)
            {
                return Midpoint(b) / 1000.0;
            }
        }

        return Midpoint(Buckets - 1) / 1000.0;
    }

    private static int Bucket(ulong micros)
    {
        if (micros < 4)
        {
            return (int)micros;
        }

        var log = 63 - BitOperations.LeadingZeroCount(micros);
        var sub = (int)(micros >> (log - 2)) & 3;
        return Math.Min(Buckets - 1, (log * 4) + sub - 4);
    }

    /// <summary>The middle of bucket <paramref name="bucket"/>, in microseconds.</summary>
    private static double Midpoint(int bucket)
    {
        if (bucket < 4)
        {
            return bucket;
        }

        var log = (bucket + 4) / 4;
        var sub = (bucket + 4) % 4;
        var width = (double)(1L << (log - 2));
        return ((4 + sub) * width) + (width / 2);
    }
}
