using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// What a courier/5 broker promises its callers holds with workers that speak less: a stock 7/MDP worker, a courier/3
/// one. Both fakes are played frame by frame, as such workers write them.
/// </summary>
public sealed class OlderWorkerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A courier/3 worker cannot be told of a CANCEL; the broker must still never give the request to another worker
    /// when it comes back (docs/protocol.md §3). Before, only a courier/5 holder's request was marked, so a 503 from the
    /// older worker put the cancelled request back in the queue, and another worker ran it.
    /// </summary>
    [Fact]
    public async Task A_request_cancelled_while_a_courier3_worker_holds_it_never_goes_to_another_worker()
    {
        // The fake sends no heartbeats: a long liveness keeps it registered however slow the machine, so that its 503
        // comes back as a bounce, not as a late reply from a worker given up.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatLiveness = 200 });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var old = await RawWorker.RegisterAsync(broker.Endpoint!, client, "held-old", "courier/3 capacity=1");
        using var cancel = new CancellationTokenSource();
        var given = client.RequestAsync("held-old", "given up", cancel.Token);
        var token = old.ReceiveRequest();

        // Another worker for the same service, there when the request comes back.
        var ran = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var other = await TestBroker.StartWorkerAsync(broker.Endpoint!, "other", service: "held-old", handler: (request, _) =>
        {
            ran.Enqueue(request.BodyText);
            return ValueTask.FromResult(request.Frames);
        });
        await TestBroker.WaitForWorkersAsync(client, "held-old", 2);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => given);
        // The broker reads one client's messages in order: once a later request is answered (by the other worker: the
        // older one has no room), it has read the CANCEL.
        Assert.Equal("after the cancel", (await client.RequestAsync("held-old", "after the cancel")).BodyText);

        // The older worker gives it back, unrun (stopping): it must be forgotten, not queued again. The broker has settled
        // that once no worker holds anything (queued again, the other worker would have run it by then).
        old.Reply(token, "503", "worker stopping"); // a stopping worker's words: before courier/6 a full one says 503 too
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "held-old")).Sum(w => w.Outstanding) == 0, Wait, "the 503 settled");
        Assert.Equal("sentinel", (await client.RequestAsync("held-old", "sentinel")).BodyText);
        Assert.Equal(["after the cancel", "sentinel"], ran.ToArray());
    }

    /// <summary>
    /// A stock 7/MDP worker that stalled past its liveness while holding a request may still answer it; its REPLY has no
    /// status frame. Before, the broker read the first body frame as a status: "hello" reached the caller as a 500.
    /// </summary>
    [Fact]
    public async Task A_late_reply_from_a_stock_7mdp_worker_given_up_reaches_its_caller_as_it_was_written()
    {
        // Given up 5 s after it last spoke; its request then waits 5 s more for a late reply.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatLiveness = 5 });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var stock = await StockWorkerAsync(broker.Endpoint!, client, "late-stock");

        var pending = client.RequestAsync("late-stock", "once");
        var request = ReceiveStockRequest(stock);
        var token = request[3];
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "late-stock")).Count == 0, Wait, "the silent worker given up");
        StockReply(stock, token, "hello");

        Assert.Equal("hello", (await pending.WaitAsync(Wait)).BodyText);
    }

    /// <summary>
    /// A request orphaned by a stalled worker takes a late reply from that worker's connection only. Its token counts
    /// up, so any peer that can send a REPLY could otherwise answer it first: an unregistered one, or a worker of another
    /// service. Before, both forgeries reached the caller.
    /// </summary>
    [Fact]
    public async Task A_late_reply_forged_by_another_connection_does_not_answer_an_orphaned_request()
    {
        var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with
        {
            HeartbeatInterval = TimeSpan.FromSeconds(1),
            HeartbeatLiveness = 5,
            LoggerFactory = logs,
        });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = Wait, Retries = 0 });
        using var stock = await StockWorkerAsync(broker.Endpoint!, client, "orphaned");

        var pending = client.RequestAsync("orphaned", "once");
        var token = ReceiveStockRequest(stock)[3];
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "orphaned")).Count == 0, Wait, "the silent worker given up");

        // An unregistered peer, and a registered worker of another service, each answer that token.
        using (var stranger = TestDealer.Connect(broker.Endpoint!))
        {
            StockReply(stranger, token, "forged");
            await Poll.UntilAsync(() => logs.Contains("sent a REPLY but is not registered"), Wait, "the stranger's REPLY read");
        }

        // Registered only now (it sends no heartbeats either): still registered when its REPLY is read.
        using var otherWorker = await RawWorker.RegisterAsync(broker.Endpoint!, client, "elsewhere", "courier/3 capacity=1");
        otherWorker.Reply(token, "200", "forged by a worker");
        await Poll.UntilAsync(() => logs.Contains("REPLY for a request it does not hold"), Wait, "the other worker's REPLY read");
        Assert.False(pending.IsCompleted, "a forged reply answered the caller");

        // The worker that held it answers: that reply reaches the caller.
        StockReply(stock, token, "hello");
        Assert.Equal("hello", (await pending.WaitAsync(Wait)).BodyText);
    }


    /// <summary>
    /// A worker registered before courier/6 (here one told to speak <see cref="Client.ClientProtocol.Courier"/>, courier/2)
    /// answers <c>503</c> when it is full as well as when it stops. Full because a handler of a connection it lost still
    /// runs (its broker restarted under it), it must be given requests again once that handler ends. Before, the broker
    /// took the <c>503</c> for "stopping" and sent it nothing more while it lived: the request waited in the queue until
    /// its caller timed out, with the worker idle and registered.
    /// </summary>
    [Fact]
    public async Task A_courier2_worker_full_after_its_broker_restarted_is_given_requests_again_once_its_old_handler_ends()
    {
        using var logs = new RecordingLoggerFactory();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new SemaphoreSlim(0);
        var first = await TestBroker.StartAsync();
        var endpoint = first.Endpoint!;
        var options = TestBroker.WorkerOptions(endpoint, "older") with
        {
            Service = "full-older",
            Concurrency = 1,
            Protocol = Client.ClientProtocol.Courier,
            LoggerFactory = logs,
        };
        await using var worker = new Worker.CourierWorker(options, async (request, _) =>
        {
            if (request.BodyText == "held")
            {
                started.TrySetResult();
                await gate.WaitAsync(CancellationToken.None); // as a handler that ignores its token: it outlives its connection
            }

            return request.Frames;
        });
        await worker.StartAsync();
        await using (var client = TestServer.Client(endpoint, o => o with { Timeout = Wait, Retries = 0 }))
        {
            await TestBroker.WaitForWorkersAsync(client, "full-older", 1);
            _ = client.RequestAsync("full-older", "held");
            await started.Task.WaitAsync(Wait);
        }

        await first.DisposeAsync();
        var port = await PortReservation.RetakeAsync(endpoint); // held until the new broker binds it: nothing else takes it
        await using var second = await TestBroker.StartAsync(o => o with { Endpoint = endpoint, LoggerFactory = logs });
        port.Dispose();
        await using var caller = TestServer.Client(endpoint, o => o with { Timeout = Wait, Retries = 0 });
        await TestBroker.WaitForWorkersAsync(caller, "full-older", 1);

        // Its one place is taken by the old connection's handler: it answers 503, which is not "stopping".
        var after = caller.RequestAsync("full-older", "after");
        await Poll.UntilAsync(() => logs.Contains("was sent more requests of full-older"), Wait, "the worker's 503 (full)");
        gate.Release();

        Assert.True(await Task.WhenAny(after, Task.Delay(Wait)) == after, logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Debug));
        Assert.Equal("after", (await after).BodyText);
    }

    /// <summary>A stock 7/MDP worker of <paramref name="service"/> (READY with no capability), once the broker lists it.</summary>
    private static async Task<DealerSocket> StockWorkerAsync(string endpoint, Client.CourierClient client, string service)
    {
        var stock = TestDealer.Connect(endpoint);
        stock.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame(service);
        await TestBroker.WaitForWorkersAsync(client, service, 1);
        return stock;
    }

    /// <summary>A stock worker's REPLY (<c>"", MDPW01, 0x03, token, "", body</c>): no status frame.</summary>
    private static void StockReply(DealerSocket socket, byte[] token, string body)
        => socket.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Reply]).SendMoreFrame(token).SendMoreFrameEmpty().SendFrame(body);

    /// <summary>A stock worker's wait for its REQUEST (<c>"", MDPW01, 0x02, token, "", body…</c>), heartbeating meanwhile.</summary>
    private static List<byte[]> ReceiveStockRequest(DealerSocket stock)
    {
        var request = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        do
        {
            stock.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendFrame([MdpWorker.Heartbeat]);
            Assert.True(DateTime.UtcNow < until, "the stock worker got no REQUEST");
            if (!stock.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(200), ref request!))
            {
                request.Clear();
            }
        }
        while (!(request.Count >= 6 && request[2] is [MdpWorker.Request]));

        return request;
    }
}
