using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

public sealed class ProcessFaultTests
{
    [Fact]
    public async Task Server_killed_with_SIGKILL_mid_stream_and_restarted_loses_no_caller()
    {
        var (first, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", "first");
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromMilliseconds(500), Retries = 4 });

        // A stream of requests, 20 at a time; each ends in a reply or a timeout exception, never a hang.
        var outcomes = new List<Task<CourierReply>>();
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                var batch = Enumerable.Range(0, 20).Select(_ => client.RequestAsync("echo", $"m{Interlocked.Increment(ref i)}", Load.Idempotent)).ToArray();
                lock (outcomes)
                {
                    outcomes.AddRange(batch);
                }

                await Task.WhenAll(batch.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            }
        });

        await Poll.UntilAsync(() => { lock (outcomes) { return outcomes.Count(t => t.IsCompletedSuccessfully) > 200; } }, what: "load flowing");
        first.Signal("KILL");
        Assert.NotEqual(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        await first.DisposeAsync();
        // The restarted server binds the same port: held from now on so that nothing else takes it meanwhile.
        using var port = await PortReservation.RetakeAsync(endpoint);

        // Down for longer than some requests' whole retry budget (5 x 500 ms), so some must time out.
        await Poll.UntilAsync(() => { lock (outcomes) { return outcomes.Any(t => t.IsFaulted); } }, what: "a request timed out while the server was down");
        var (second, _) = await ChildProcess.StartServerAsync("--bind", endpoint, "--name", "second");
        port.Dispose();
        await using (second)
        {
            // A whoami that times out is "not yet": libzmq's reconnect backoff (up to 2 s after a 3 s outage) and a
            // slow start under load can outlast one request's retry budget.
            await Poll.UntilAsync(
                async () =>
                {
                    try
                    {
                        return (await client.RequestAsync("whoami", "")).BodyText == "second";
                    }
                    catch (CourierTimeoutException)
                    {
                        return false;
                    }
                },
                what: "restarted server answers");
            await stop.CancelAsync();
            await load.WaitAsync(TimeSpan.FromSeconds(60));

            Task<CourierReply>[] all;
            lock (outcomes)
            {
                all = [.. outcomes];
            }

            Assert.All(all, t => Assert.True(t.IsCompleted, "every request ended"));
            var failures = all.Where(t => !t.IsCompletedSuccessfully).Select(t => t.Exception!.InnerException).ToArray();
            Assert.All(failures, e => Assert.IsType<CourierTimeoutException>(e));
            Assert.NotEmpty(failures);
            Assert.Contains(all, t => t.IsCompletedSuccessfully && t.Result.BodyText.StartsWith('m'));
            Assert.Equal("second", (await client.RequestAsync("whoami", "")).BodyText);
        }
    }
}
