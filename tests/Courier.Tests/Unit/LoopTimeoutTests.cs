using Courier.Transport.Internal.Native;

namespace Courier.Tests.Unit;

public sealed class LoopTimeoutTests
{
    private const long NanosecondTicks = 1_000_000_000; // Stopwatch.Frequency on Linux

    [Theory]
    [InlineData(1)] // 1 ns before the tick
    [InlineData(499_999)]
    [InlineData(1_000_000)]
    [InlineData(5_700_000)] // 5.7 ms: a 5 ms poll would wake 0.7 ms early
    [InlineData(99_999_999)]
    [InlineData(250_000_000)]
    public void The_loop_never_wakes_before_its_tick_is_due(long remainingNanoseconds)
    {
        var timeoutMs = NativeLoop.PollTimeoutMs(remainingNanoseconds, NanosecondTicks);

        Assert.True(timeoutMs * 1_000_000L >= remainingNanoseconds, $"{timeoutMs} ms is shorter than {remainingNanoseconds} ns");
        Assert.True((timeoutMs - 1) * 1_000_000L < remainingNanoseconds, $"{timeoutMs} ms oversleeps {remainingNanoseconds} ns by a millisecond or more");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-5_000_000)]
    public void A_tick_already_due_polls_without_waiting(long remainingNanoseconds) =>
        Assert.Equal(0, NativeLoop.PollTimeoutMs(remainingNanoseconds, NanosecondTicks));

    [Fact]
    public void A_tick_beyond_any_poll_timeout_waits_the_longest() =>
        Assert.Equal(int.MaxValue, NativeLoop.PollTimeoutMs(long.MaxValue / 2000, 1));
}
