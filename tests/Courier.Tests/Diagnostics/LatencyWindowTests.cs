using System.Diagnostics;
using Courier.Diagnostics.Internal;

namespace Courier.Tests.Diagnostics;

public sealed class LatencyWindowTests
{
    private static long Micros(double micros) => (long)(micros * Stopwatch.Frequency / 1_000_000);

    [Fact]
    public void Percentiles_fall_within_a_quarter_of_the_recorded_values()
    {
        var window = new LatencyWindow();
        for (var i = 1; i <= 100; i++)
        {
            window.Record(Micros(i * 100)); // 0.1 ms … 10 ms
        }

        Assert.InRange(window.Percentile(0.5)!.Value, 5.0 * 0.75, 5.0 * 1.25);
        Assert.InRange(window.Percentile(0.99)!.Value, 9.9 * 0.75, 9.9 * 1.25);
    }

    [Fact]
    public void Old_windows_are_forgotten_after_two_rotations()
    {
        var window = new LatencyWindow();
        window.Record(Micros(1000));
        window.Rotate();
        Assert.Equal(1, window.Count);
        window.Rotate();
        Assert.Null(window.Percentile(0.5));
    }

    [Fact]
    public void Values_beyond_the_last_bucket_and_below_one_microsecond_are_kept()
    {
        var window = new LatencyWindow();
        window.Record(0);
        window.Record(-5);
        window.Record(long.MaxValue / 2_000_000);
        Assert.Equal(3, window.Count);
        Assert.True(window.Percentile(1.0) > 1000);
    }
}
