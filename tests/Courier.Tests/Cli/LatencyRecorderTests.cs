using Courier.Cli.Bench;
using HdrHistogram;

namespace Courier.Tests.Cli;

public sealed class LatencyRecorderTests
{
    [Fact]
    public void Every_recorded_latency_reaches_the_histogram_across_its_chunks()
    {
        var recorder = new LatencyRecorder();
        const int Count = 40_000; // more than two chunks, the last one part-filled
        for (var i = 1; i <= Count; i++)
        {
            recorder.Record(i);
        }

        var histogram = new LongHistogram(1_000_000, 3);
        recorder.CopyTo(histogram);

        Assert.Equal(Count, recorder.Count);
        Assert.Equal(Count, histogram.TotalCount);
        Assert.Equal(Count, histogram.GetMaxValue(), tolerance: Count / 1000.0);
        Assert.Equal(1, histogram.GetValueAtPercentile(0));
    }

    [Fact]
    public void A_recorder_with_nothing_recorded_adds_nothing()
    {
        var histogram = new LongHistogram(1_000_000, 3);
        new LatencyRecorder().CopyTo(histogram);
        Assert.Equal(0, histogram.TotalCount);
    }
}
