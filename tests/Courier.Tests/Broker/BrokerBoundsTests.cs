using System.Text;
using System.Text.Json;
using Courier.Broker;
using Courier.Client;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// The broker's state stays bounded whatever its peers send: each test runs an attack from issue 13, scaled down, with
/// a canary client served alongside that must see no error.
/// </summary>
public sealed class BrokerBoundsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>A broker whose services never answer 404 on their own: every request for a service without a worker waits.</summary>
    private static Task<CourierBroker> StartAsync(Func<CourierBrokerOptions, CourierBrokerOptions> configure)
        => TestBroker.StartAsync(o => configure(o with { ServiceGracePeriod = Timeout.InfiniteTimeSpan }));

    private static CourierHandler Echo => (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([.. request.Frames]);


    private static CourierClient Attacker(string endpoint)
        => TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });

    [Fact]
    public async Task A_client_naming_thousands_of_services_is_refused_past_MaxServices_and_leaves_none_behind_when_it_goes()
    {
        await using var broker = await StartAsync(o => o with { MaxServices = 300, IdleServiceTimeout = TimeSpan.Zero });
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var observer = TestServer.Client(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");

        // A stock 7/MDP client waits for a worker however long: each name it asks for holds a service while it is connected.
        using (var attacker = TestDealer.Connect(broker.Endpoint!))
        {
            const int Names = 3000;
            for (var i = 0; i < Names; i++)
            {
                attacker.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame($"name-{i}").SendFrame("x");
            }

            // Past the bound, each new name is answered 503 at once, with a reason that names the setting.
            var refusals = 0;
            var frames = new List<byte[]>();
            while (refusals < Names - 299 && attacker.TryReceiveMultipartBytes(Wait, ref frames!))
            {
                Assert.Equal("503", Encoding.UTF8.GetString(frames[3]));
                Assert.Contains("MaxServices", Encoding.UTF8.GetString(frames[4]), StringComparison.Ordinal);
                refusals++;
            }

            Assert.Equal(Names - 299, refusals); // the canary's service was there before
            await Poll.UntilAsync(async () => await ServiceCountAsync(observer) == 300, Wait, "300 services");
            var refused = await Assert.ThrowsAsync<CourierRemoteException>(() => observer.RequestAsync("one-more", "x"));
            Assert.Equal(CourierStatus.Unavailable, refused.StatusCode);
        }

        // Its connection gone, its requests go, and so do the services they held.
        await Poll.UntilAsync(async () => await ServiceCountAsync(observer) == 1, Wait, "only the canary's service left");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_worker_registers_its_service_while_a_client_holds_every_place_with_services_nobody_serves()
    {
        await using var broker = await StartAsync(o => o with { MaxServices = 50 });
        await using var canaryWorker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var observer = TestServer.Client(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");

        // A stock 7/MDP client's requests wait for a worker without a deadline: 49 names fill the broker's places, and
        // would keep them for as long as the client stays connected.
        using var squatter = TestDealer.Connect(broker.Endpoint!);
        for (var i = 0; i < 49; i++)
        {
            squatter.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame($"name-{i}").SendFrame("x");
        }

        await Poll.UntilAsync(async () => await ServiceCountAsync(observer) == 50, Wait, "every place taken");

        // A worker for a service the broker does not know yet (a deployment, or a broker restarted) is taken, not sent
        // DISCONNECT: the place that has gone without a worker the longest is given up, its waiting request answered.
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!, "orders");
        Assert.Equal("x", (await observer.RequestAsync("orders", "x")).BodyText);

        var frames = new List<byte[]>();
        Assert.True(squatter.TryReceiveMultipartBytes(Wait, ref frames!), "the request whose service gave its place up was not answered");
        Assert.Equal("404", Encoding.UTF8.GetString(frames[3]));
        Assert.Contains("MaxServices", Encoding.UTF8.GetString(frames[4]), StringComparison.Ordinal);
        Assert.Equal(50, await ServiceCountAsync(observer));

        // A stock worker's READY takes a place too; its second READY (7/MDP allows one) is refused, and takes none.
        using var stock = TestDealer.Connect(broker.Endpoint!);
        stock.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("stock");
        Assert.True(squatter.TryReceiveMultipartBytes(Wait, ref frames!), "the stock worker's READY took no place");
        Assert.Equal("404", Encoding.UTF8.GetString(frames[3]));
        stock.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("second");
        Assert.True(stock.TryReceiveMultipartBytes(Wait, ref frames!), "the second READY was not answered");
        while (frames[2].SequenceEqual(new[] { MdpWorker.Heartbeat }) && stock.TryReceiveMultipartBytes(Wait, ref frames!))
        {
        }

        Assert.Equal(new[] { MdpWorker.Disconnect }, frames[2]);
        Assert.False(squatter.TryReceiveMultipartBytes(TimeSpan.FromSeconds(1), ref frames!), "a refused READY took a place");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_service_a_worker_left_is_forgotten_after_the_idle_timeout_but_not_before()
    {
        await using var broker = await StartAsync(o => o with { IdleServiceTimeout = TimeSpan.FromMilliseconds(300) });
        await using var observer = TestServer.Client(broker.Endpoint!);
        var worker = await Canary.StartWorkerAsync(broker.Endpoint!, "passing");
        Assert.Equal("x", (await observer.RequestAsync("passing", "x")).BodyText);

        await worker.DisposeAsync();

        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "passing")).Served == 0, Wait, "the service forgotten");
        Assert.Equal(0, await ServiceCountAsync(observer));
    }

    [Fact]
    public async Task Past_MaxQueued_requests_for_any_service_get_503_at_once_while_a_canary_is_served()
    {
        await using var broker = await StartAsync(o => o with { MaxQueued = 400 });
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");
        await using var attacker = Attacker(broker.Endpoint!);

        // 1,000 requests over 10 services no worker serves: 100 each, well under MaxQueuedPerService.
        var attack = Enumerable.Range(0, 1000).Select(i => attacker.RequestAsync($"unserved-{i % 10}", "x")).ToArray();
        await Poll.UntilAsync(() => attack.Count(t => t.IsCompleted) >= 600, Wait, "the excess refused");

        Assert.All(attack.Where(t => t.IsCompleted), t => Assert.Equal(CourierStatus.Unavailable, ((CourierRemoteException)t.Exception!.InnerException!).StatusCode));
        Assert.Contains("MaxQueued", attack.First(t => t.IsCompleted).Exception!.InnerException!.Message, StringComparison.Ordinal);
        Assert.Equal(600, attack.Count(t => t.IsCompleted));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task Past_MaxQueuedBytes_large_requests_get_503_at_once_while_a_canary_is_served()
    {
        await using var broker = await StartAsync(o => o with { MaxQueuedBytes = 1024 * 1024 });
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");
        await using var attacker = Attacker(broker.Endpoint!);
        await using var observer = TestServer.Client(broker.Endpoint!);

        var body = new byte[100 * 1024];
        var attack = Enumerable.Range(0, 50).Select(_ => attacker.RequestAsync("unserved", body)).ToArray();
        await Poll.UntilAsync(() => attack.Count(t => t.IsCompleted) >= 40, Wait, "the excess refused");

        // 1 MiB holds ten such requests with their envelopes and bookkeeping, not eleven.
        Assert.Equal(10, (await TestBroker.StatsAsync(observer, "unserved")).Queued);
        Assert.Equal(40, attack.Count(t => t.IsCompleted));
        Assert.All(attack.Where(t => t.IsCompleted), t => Assert.Contains("MaxQueuedBytes", t.Exception!.InnerException!.Message, StringComparison.Ordinal));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_client_flooding_a_service_gets_503s_while_a_canary_on_the_same_service_is_served_in_turn_without_timeouts()
    {
        // One slow worker: 200 queued requests are 10 s of work, twice the canary's timeout, had it to wait behind them.
        await using var broker = await StartAsync(o => o with { MaxQueuedPerService = 200 });
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!, "shared", TimeSpan.FromMilliseconds(50), concurrency: 1);
        await using var flooder = Attacker(broker.Endpoint!);
        await using var observer = TestServer.Client(broker.Endpoint!);

        var flood = Enumerable.Range(0, 1000).Select(i => flooder.RequestAsync("shared", $"flood {i}")).ToList();
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "shared")).Queued >= 199, Wait, "the queue full");
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "shared", TimeSpan.FromSeconds(5));
        var keepFlooding = Task.Run(async () =>
        {
            for (var i = 0; i < 20 && canary.ErrorCount == 0; i++)
            {
                flood.AddRange(Enumerable.Range(0, 50).Select(j => flooder.RequestAsync("shared", $"more {i} {j}")));
                await Task.Delay(100);
            }
        });

        await Poll.UntilAsync(() => canary.Answered >= 10 || canary.ErrorCount > 0, Wait, "ten canary replies");
        await keepFlooding;

        await canary.AssertUnharmedAsync();
        Assert.True(canary.Answered >= 10, $"the canary was answered {canary.Answered} times");
        var refused = flood.Where(t => t.IsFaulted).Select(t => ((CourierRemoteException)t.Exception!.InnerException!).StatusCode).ToList();
        Assert.True(refused.Count >= 800, $"the flooder had {refused.Count} requests refused");
        Assert.All(refused, status => Assert.Equal(CourierStatus.Unavailable, status));
    }

    [Fact]
    public async Task A_displaced_requests_resend_never_takes_the_reply_of_the_request_that_displaced_it()
    {
        // The broker reuses a finished request's slot at once: the request that displaced another may get the very slot
        // the displaced one had. The displaced one's resend (its client retries a 503 on a fresh connection, same id) must
        // be refused again, not joined to whatever now holds that slot: that would send one client's reply to another.
        await using var broker = await StartAsync(o => o with { MaxQueuedPerService = 4 });
        await using var observer = TestServer.Client(broker.Endpoint!);
        await using var flooder = Attacker(broker.Endpoint!);
        var flood = Enumerable.Range(0, 4).Select(i => flooder.RequestAsync("later", $"flood {i}")).ToList();
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "later")).Queued == 4, Wait, "the queue full");

        await using var other = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        var mine = other.RequestAsync("later", "mine");
        await Poll.UntilAsync(() => flood.Any(t => t.IsCompleted), Wait, "the displaced request refused, resends included");

        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!, "later");
        Assert.Equal("mine", (await mine.WaitAsync(Wait)).BodyText);
        var displaced = Assert.Single(flood, t => t.IsFaulted);
        Assert.Equal(CourierStatus.Unavailable, ((CourierRemoteException)displaced.Exception!.InnerException!).StatusCode);
        foreach (var served in flood.Where(t => t != displaced))
        {
            Assert.StartsWith("flood ", (await served.WaitAsync(Wait)).BodyText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_client_that_goes_takes_only_its_own_queued_requests_with_it()
    {
        await using var broker = await StartAsync(o => o);
        await using var observer = TestServer.Client(broker.Endpoint!);
        await using var staying = Attacker(broker.Endpoint!);
        var waiting = Enumerable.Range(0, 30).Select(i => staying.RequestAsync($"later-{i % 3}", "x")).ToArray();
        using (var leaving = TestDealer.Connect(broker.Endpoint!))
        {
            for (var i = 0; i < 20; i++)
            {
                leaving.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame($"later-{i % 2}").SendFrame("x");
            }

            await Poll.UntilAsync(async () => await QueuedAsync(observer) == 50, Wait, "both clients' requests queued");
        }

        await Poll.UntilAsync(async () => await QueuedAsync(observer) == 30, Wait, "the leaving client's requests gone");
        await using var worker = await Canary.StartWorkerAsync(broker.Endpoint!, "later-0");
        await Poll.UntilAsync(() => waiting.Count(t => t.IsCompletedSuccessfully) == 10, Wait, "the staying client's later-0 requests served");
        await Poll.UntilAsync(async () => await QueuedAsync(observer) == 20, Wait, "the rest still queued"); // an answer about every service may be a tick old
    }

    [Fact]
    public async Task Mmi_answers_about_every_service_and_worker_are_bounded_and_say_they_are_truncated()
    {
        // Slow heartbeats: the raw worker below never sends one.
        await using var broker = await StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var observer = TestServer.Client(broker.Endpoint!);
        // The canary's worker heartbeats as slowly: at the tests' 500 ms it reconnected whenever its requests paused for
        // its liveness (this broker heartbeats every 30 s), and counted 600 workers instead of 601 meanwhile.
        await using var canaryWorker = await Canary.StartWorkerAsync(broker.Endpoint!, configure: o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");

        // Three courier/4 connections registering 200 services each (a connection registers at most 256): 600 services,
        // 601 workers with the canary's.
        using var first = RegisterServices(broker.Endpoint!, 0, 200);
        using var second = RegisterServices(broker.Endpoint!, 200, 400);
        using var third = RegisterServices(broker.Endpoint!, 400, 600);

        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "svc-0599")).Workers == 1, Wait, "600 services registered");

        foreach (var mmi in new[] { "mmi.stats", "mmi.workers" })
        {
            var reply = await observer.RequestAsync(mmi, "");
            Assert.True(reply.Body.Length < 64 * 1024, $"{mmi}: {reply.Body.Length} bytes");
            using var json = JsonDocument.Parse(reply.Body);
            var truncated = json.RootElement.GetProperty("mmi.truncated");
            Assert.Equal(601, truncated.GetProperty("total").GetInt32());
            Assert.True(truncated.GetProperty("shown").GetInt32() is > 0 and < 601);
        }

        // Asked by name, a service is found whatever the size of the rest.
        Assert.Single(await TestBroker.WorkersAsync(observer, "svc-0599"));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_worker_connection_registering_more_services_than_a_connection_may_is_disconnected()
    {
        // Each REPLY's token is looked up in every registration of its connection: 10,000 of them made every reply cost
        // 10,000 lookups. A connection registers at most 256.
        await using var broker = await StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var observer = TestServer.Client(broker.Endpoint!);
        await using var canaryWorker = await Canary.StartWorkerAsync(broker.Endpoint!, configure: o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");

        using var many = RegisterServices(broker.Endpoint!, 0, Courier.Broker.Internal.WorkerRegistry.MaxServicesPerWorker + 1);

        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        var disconnected = false;
        while (!disconnected && many.TryReceiveMultipartBytesBefore(until, ref frames!))
        {
            disconnected = frames.Count >= 3 && frames[2].AsSpan().SequenceEqual([MdpWorker.Disconnect]);
        }

        Assert.True(disconnected, "no DISCONNECT for the READY past the bound");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "svc-0000")).Workers == 0, Wait, "its registrations gone with it");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_repeat_with_another_body_than_its_queued_first_attempt_is_refused_and_the_first_runs_as_sent()
    {
        // Joining a queued request takes the repeat's frames, body and all: a 1-byte request counted in the queue's bytes
        // could become one of several MiB, never checked against MaxRequestSize (1 KiB here) nor counted.
        await using var broker = await StartAsync(o => o with { MaxRequestSize = 1024, ServiceGracePeriod = TimeSpan.FromSeconds(30) });
        using var first = TestDealer.Connect(broker.Endpoint!);
        using var repeat = TestDealer.Connect(broker.Endpoint!);
        await using var observer = TestServer.Client(broker.Endpoint!);

        RawCourier5.Send(first, 7, "x", service: "sink");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "sink")).Queued == 1, Wait, "the first attempt queued");
        RawCourier5.Send(repeat, 7, new string('y', 2 * 1024 * 1024), service: "sink");
        Assert.Equal("400", RawCourier5.Receive(repeat).Status);

        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "sink-worker", service: "sink", handler: Echo);
        Assert.Equal(("200", "x"), RawCourier5.Receive(first));
    }

    /// <summary>A raw courier/4 worker connection sending READY for <c>svc-FROM</c> up to, not including, <c>svc-TO</c>.</summary>
    private static DealerSocket RegisterServices(string endpoint, int from, int to)
    {
        var socket = TestDealer.Connect(endpoint);
        for (var i = from; i < to; i++)
        {
            socket.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame("\u0001").SendMoreFrame($"svc-{i:D4}").SendFrame("courier/4 capacity=1 name=many");
        }

        return socket;
    }

    /// <summary>Services the broker holds, by <c>mmi.stats</c> (its total when the answer is truncated).</summary>
    private static async Task<int> ServiceCountAsync(CourierClient client)
    {
        using var json = JsonDocument.Parse((await client.RequestAsync("mmi.stats", "")).Body);
        return json.RootElement.TryGetProperty("mmi.truncated", out var truncated)
            ? truncated.GetProperty("total").GetInt32()
            : json.RootElement.EnumerateObject().Count();
    }

    /// <summary>Requests waiting in all services, by <c>mmi.stats</c>.</summary>
    private static async Task<int> QueuedAsync(CourierClient client)
    {
        using var json = JsonDocument.Parse((await client.RequestAsync("mmi.stats", "")).Body);
        return json.RootElement.EnumerateObject().Where(p => p.Name != "mmi.truncated").Sum(p => p.Value.GetProperty("queued").GetInt32());
    }
}
