using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// 7/MDP leaves the heartbeat interval to configuration. A broker and a worker configured with different intervals
/// must not drop each other: each answers the faster side's heartbeats at that side's pace.
/// </summary>
public sealed class HeartbeatPaceTests
{
    [SkippableTheory]
    [InlineData(5000, 200)] // the worker the faster: it would give up on a broker that heartbeats every 5 s
    [InlineData(200, 5000)] // the broker the faster: it would expire a worker that heartbeats every 5 s
    public async Task A_worker_and_a_broker_with_different_heartbeat_intervals_keep_one_registration(int brokerMs, int workerMs)
    {
        // On NetMQ the worker's timer-driven heartbeats did not reach a broker that had nothing else to say: not
        // understood yet (the closing note of issue 14 says so); the pace is kept on libzmq.
        Skip.If(
            Courier.Transport.Internal.TransportResolver.AutoMeans == Courier.Transport.TransportImplementation.Managed,
            "NetMQ: timer-driven worker heartbeats seen late by an idle broker (open)");
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(brokerMs), HeartbeatLiveness = 3 });
        var workerLog = new RecordingLoggerFactory();
        await using var worker = new CourierWorker(
            TestBroker.WorkerOptions(broker.Endpoint!, "steady") with
            {
                HeartbeatInterval = TimeSpan.FromMilliseconds(workerMs),
                HeartbeatLiveness = 3,
                LoggerFactory = workerLog,
            },
            TestBroker.Tagged("steady"));
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        // A fast heartbeat makes for a short protocol probe: a slow first answer registers as 7/MDP, then again.
        await Poll.UntilAsync(() => workerLog.Contains("as courier/"), what: "registered as Courier");
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        var first = await TestBroker.WorkersAsync(client, "echo");
        Assert.True(first.Count == 1, workerLog.AtLeast(Microsoft.Extensions.Logging.LogLevel.Debug));
        var registered = first[0].Id;

        // Ten liveness periods of the faster side, with no other traffic to stand in for heartbeats.
        var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(Math.Min(brokerMs, workerMs) * 3 * 10);
        while (DateTime.UtcNow < until)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            Assert.False(workerLog.Contains("lost the broker"), workerLog.AtLeast(Microsoft.Extensions.Logging.LogLevel.Debug));
        }

        var workers = await TestBroker.WorkersAsync(client, "echo");
        Assert.True(workers.Count == 1 && workers[0].Id == registered, workerLog.AtLeast(Microsoft.Extensions.Logging.LogLevel.Debug));
        var reply = await client.RequestAsync("echo", "x");
        Assert.Equal("steady", System.Text.Encoding.UTF8.GetString(reply.Frames[0].Span));
    }
}
