using System.Diagnostics;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Tests.Integration;

/// <summary>
/// A loop told to expect posted work (a client's, after it answered a caller resumed on the thread pool) looks for it a
/// few microseconds before it blocks, and a poster that finds it looking writes no wake-up. Work posted at any moment of
/// that look, or just as it ends, must still run.
/// </summary>
public sealed class LoopPostSpinTests
{
    [SkippableFact]
    public async Task Work_posted_while_the_loop_looks_for_posts_before_it_blocks_always_runs()
    {
        Skip.If(TestTransport.IsManaged, "the managed loop does not look for posts before it blocks");
        var transport = TransportResolver.Resolve(TransportOptions.Default, NullLogger.Instance);
        using var loop = transport.CreateLoop("post-spin", NullLogger.Instance);
        // Every turn ends expecting a post. The tick is an hour away, so that a lost wake-up is not rescued by it.
        loop.Start(TimeSpan.FromHours(1), () => { }, loop.ExpectPostSoon);
        var ticksPerMicrosecond = Stopwatch.Frequency / 1_000_000.0;
        for (var i = 0; i < 3000; i++)
        {
            var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // Posted 0 to 59 µs after the last one ran: before, during and after the loop's 30 µs look.
            var at = Stopwatch.GetTimestamp() + (long)(i % 60 * ticksPerMicrosecond);
            while (Stopwatch.GetTimestamp() < at)
            {
            }

            loop.Post(ran.SetResult);
            await ran.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
