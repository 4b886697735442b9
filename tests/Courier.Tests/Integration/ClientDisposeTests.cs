using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>Disposing a client ends every call made on it, including calls made while it is being disposed.</summary>
public sealed class ClientDisposeTests
{
    [Fact]
    public async Task Calls_racing_DisposeAsync_end_with_CourierClosedException_and_none_hangs()
    {
        // Nothing answers: only the disposal can end these calls (their attempts would last a minute).
        using var nobody = PortReservation.Any();
        for (var round = 0; round < 50; round++)
        {
            var client = TestServer.Client(nobody.Endpoint, o => o with { Timeout = TimeSpan.FromMinutes(1), Retries = 0 });
            var calls = new List<Task>();
            var made = 0;
            var caller = Task.Run(() =>
            {
                while (true)
                {
                    try
                    {
                        calls.Add(client.RequestAsync("echo", "x"u8.ToArray()));
                        Interlocked.Increment(ref made);
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                }
            });

            await Poll.UntilAsync(() => Volatile.Read(ref made) > 0, what: "calls in flight");
            await client.DisposeAsync();
            await caller;

            var ended = Task.WhenAll(calls);
            await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(20)));
            Assert.True(ended.IsCompleted, $"round {round}: {calls.Count(c => !c.IsCompleted)} of {calls.Count} calls never ended");
            Assert.All(calls, c => Assert.IsType<CourierClosedException>(c.Exception?.InnerException));
        }
    }
    [Fact]
    public async Task A_call_still_out_when_the_loop_is_too_busy_to_close_the_client_in_time_ends_with_CourierClosedException()
    {
        // DisposeAsync posts the closing to the client's loop and waits 2 s for it; a loop busy all that while (here a
        // continuation run inline that blocks it) never ran it, and the loop stopped with the call still in its table.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(map: s => s
            .Map("never", async (r, ct) =>
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                return r.Frames;
            })
            .Map("gated", async (r, ct) =>
            {
                await gate.Task.WaitAsync(ct);
                return r.Frames;
            }));
        var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromMinutes(1), Retries = 0, RunContinuationsInline = true });
        var outstanding = client.RequestAsync("never", "x");
        await Poll.UntilAsync(() => server.InFlight == 1, what: "the call out at the server");

        using var blocking = new ManualResetEventSlim();
        var onPool = true;
        // Attached before the reply can come (the gate opens after), so that it runs inline, on the loop's thread.
        var blocker = client.RequestAsync("gated", "y").ContinueWith(
            _ =>
            {
                onPool = Thread.CurrentThread.IsThreadPoolThread;
                blocking.Set();
                Thread.Sleep(TimeSpan.FromSeconds(3.5)); // on the loop's thread: longer than DisposeAsync waits for it
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        gate.SetResult();
        Assert.True(blocking.Wait(TimeSpan.FromSeconds(30)), "the continuation never ran");
        Assert.False(onPool, "the continuation ran on the thread pool, not on the client's loop");

        await client.DisposeAsync();
        await blocker.WaitAsync(TimeSpan.FromSeconds(30));

        var ended = await Assert.ThrowsAnyAsync<Exception>(() => outstanding.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.IsType<CourierClosedException>(ended);
    }
}
