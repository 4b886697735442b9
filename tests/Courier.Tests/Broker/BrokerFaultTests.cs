using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

public sealed class BrokerFaultTests
{
    private static string[] WorkerArgs(string endpoint, string name, string delay, string concurrency = "20", string heartbeat = "500ms")
        => ["worker", "--connect", endpoint, "--name", name, "--delay", delay, "--concurrency", concurrency, "--heartbeat", heartbeat, "--liveness", "3",
            "--prefetch", "0"]; // what the broker holds at a worker is its concurrency, as these tests count it

    [Fact]
    public async Task Worker_killed_with_SIGKILL_under_pipelined_load_loses_no_request()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var a = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "a", "5ms"));
        await using var b = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "b", "5ms"));
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "echo", 2);

        // Retries = 0: every reply must come through the broker's own requeueing, not a client resend.
        var requests = Enumerable.Range(0, 3000).Select(i => (i, Task: client.RequestAsync("echo", $"r{i}"))).ToArray();
        await Poll.UntilAsync(() => requests.Count(r => r.Task.IsCompleted) > 300, what: "load flowing");
        a.Signal("KILL");

        var replies = await Task.WhenAll(requests.Select(r => r.Task)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(requests.Select(r => $"r{r.i}"), replies.Select(r => r.BodyText));

        // Polled: if the killed worker held nothing at that moment, every reply can be in before its drop is seen.
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
    }

    [Fact]
    public async Task Worker_killed_with_SIGKILL_is_known_dead_from_its_dropped_connection_long_before_its_liveness()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(20) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        // As slow as the broker's: at 500 ms the worker reconnected whenever a few broker heartbeats were missing, and
        // a reconnect that fell on the request below answered it 520.
        await using var worker = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "doomed", "0ms", heartbeat: "20s"));
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        Assert.Equal("x", (await client.RequestAsync("echo", "x")).BodyText);

        worker.Signal("KILL");

        // Liveness would take 200 s; the poll gives up after 30 s.
        await TestBroker.WaitForWorkersAsync(client, "echo", 0);
    }

    [Fact]
    public async Task Stopped_worker_is_expired_its_requests_served_elsewhere_and_its_late_replies_never_reach_the_client()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatLiveness = TestBroker.QuickLiveness });
        await using var frozen = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "frozen", "500ms", concurrency: "10"));
        await using var observer = TestServer.Client(broker.Endpoint!);
        // Registered as a Courier worker (capacity 10, idempotent), not as the plain 7/MDP one a worker falls back to
        // when its probe goes unanswered on a loaded machine (until the late answer re-registers it): a plain worker's
        // requests may not run again, and would be answered 520 here.
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(observer, "echo")) is [{ Capacity: 10 }], what: "the worker registered with courier/5");

        // A raw Courier client, so that every reply that arrives is seen, duplicates included.
        using var dealer = new DealerSocket();
        dealer.Connect(broker.Endpoint!);
        for (var i = 0; i < 20; i++)
        {
            dealer.SendMoreFrameEmpty().SendMoreFrame([.. "CURC02"u8, .. BitConverter.GetBytes((long)i), .. "echo"u8]).SendFrame($"job{i}");
        }

        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "echo")).InFlight == 10, what: "the worker holds 10 requests");
        frozen.Signal("STOP");
        try
        {
            await using var healthy = await TestBroker.StartWorkerAsync(broker.Endpoint!, "healthy");
            var replies = new Dictionary<long, int>();
            var received = new List<byte[]>();
            while (replies.Count < 20 && dealer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref received!))
            {
                // "", "CURC02" + id + status, body
                var id = BitConverter.ToInt64(received[1], 6);
                replies[id] = replies.GetValueOrDefault(id) + 1;
                Assert.Equal("200", Encoding.ASCII.GetString(received[1], 14, 3));
            }

            Assert.Equal(20, replies.Count);
            frozen.Signal("CONT");

            // The thawed worker finishes its 10 requests and replies: the broker must drop all of them.
            await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "echo")).Workers == 2, what: "the thawed worker re-registers");
            while (dealer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(1), ref received!))
            {
                var id = BitConverter.ToInt64(received[1], 6);
                replies[id] = replies.GetValueOrDefault(id) + 1;
            }

            Assert.All(replies.Values, count => Assert.Equal(1, count));
        }
        finally
        {
            frozen.Signal("CONT");
        }
    }

    [Fact]
    public async Task Broker_killed_and_restarted_workers_reregister_and_clients_recover_through_retries()
    {
        var (first, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*", "--heartbeat", "500ms");
        // Quick liveness: should the new broker's DISCONNECT not reach it, the worker gives the dead one up well within the
        // callers' ~10 s of retries.
        await using var worker = await TestBroker.StartWorkerAsync(endpoint, "survivor", configure: o => o with { HeartbeatLiveness = TestBroker.QuickLiveness });
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromMilliseconds(500), Retries = 20 });
        Assert.Equal("survivor", (await client.RequestAsync("echo", "before")).BodyText);

        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await first.DisposeAsync();
        // The restarted broker binds the same port: held from now on so that nothing else takes it meanwhile.
        using var port = await PortReservation.RetakeAsync(endpoint);
        // Idempotent: sent to a dead broker, an at-most-once request would fail with outcome unknown once its
        // connection is judged dead (the client cannot tell that nothing received it).
        var during = client.RequestAsync("echo", "during", Load.Idempotent);
        var (second, _) = await ChildProcess.StartBrokerAsync("--bind", endpoint, "--heartbeat", "500ms");
        await using var _ = second;
        port.Dispose();

        Assert.Equal(["survivor", "during"], (await during.WaitAsync(TimeSpan.FromSeconds(30))).Frames.Select(f => Encoding.UTF8.GetString(f.Span)));
        Assert.Equal("survivor", (await client.RequestAsync("echo", "after")).BodyText);
    }

    [Fact]
    public async Task Request_for_a_service_without_workers_waits_and_is_served_when_one_arrives()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });

        var waiting = client.RequestAsync("late", "hello");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, "late")).Queued == 1, what: "request queued");
        Assert.False(waiting.IsCompleted);
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "newcomer", service: "late");

        Assert.Equal("newcomer", (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }

    [Fact]
    public async Task Request_for_a_service_without_workers_times_out_at_the_client()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromMilliseconds(300), Retries = 1 });

        var error = await Assert.ThrowsAsync<CourierTimeoutException>(() => client.RequestAsync("nobody", "x"));
        Assert.Equal(2, error.Attempts);
    }

    [Fact]
    public async Task Requests_of_a_client_that_went_away_leave_the_queue()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var observer = TestServer.Client(broker.Endpoint!);
        var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        var abandoned = Enumerable.Range(0, 3).Select(i => client.RequestAsync("unserved", $"{i}")).ToArray();
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "unserved")).Queued == 3, what: "3 requests queued");

        await client.DisposeAsync(); // its connection closes

        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "unserved")).Queued == 0, what: "the queue forgets them");
        Assert.All(abandoned, t => Assert.IsType<CourierClosedException>(t.Exception!.InnerException));
    }

    [Fact]
    public async Task Poison_request_is_answered_with_an_error_after_it_kills_the_configured_number_of_workers()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { MaxWorkerDeaths = 3 });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        // Idempotent: only a request that may run again goes to another worker after a death (docs/protocol.md §8).
        var poison = client.RequestAsync("fragile", "poison", CourierRequestOptions.Default with { Idempotent = true });

        // Three workers in turn take the request and die (their connections drop) without replying.
        for (var i = 0; i < 3; i++)
        {
            using var victim = TestDealer.Connect(broker.Endpoint!);
            victim.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpCommand.Ready]).SendFrame("fragile");
            var request = new List<byte[]>();
            while (victim.TryReceiveMultipartBytes(TimeSpan.FromSeconds(10), ref request!) && request[2][0] != MdpCommand.Request)
            {
            }

            Assert.Equal("poison", Encoding.UTF8.GetString(request[^1]));
        }

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => poison);
        Assert.Equal(CourierStatus.PoisonRequest, error.StatusCode);
        Assert.Contains("3 workers died", error.RemoteMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Queue_limit_answers_503_when_exceeded()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { MaxQueuedPerService = 2 });
        var logs = new RecordingLoggerFactory();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0, LoggerFactory = logs });

        var queued = new[] { client.RequestAsync("idle", "1"), client.RequestAsync("idle", "2") };
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, "idle")).Queued == 2);
        var third = await Record.ExceptionAsync(() => client.RequestAsync("idle", "3"));
        Assert.True(third is CourierRemoteException, $"{third}\n{logs.AtLeast(Microsoft.Extensions.Logging.LogLevel.Trace)}");
        var error = (CourierRemoteException)third;

        Assert.Equal(CourierStatus.Unavailable, error.StatusCode);
        Assert.Contains("queue full", error.RemoteMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reply_sent_just_before_a_worker_disconnects_reaches_the_client_and_is_not_run_again()
    {
        // A liveness far beyond the test's polls: only the connection event can remove each departed worker in time.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(20) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });

        // Each round a plain 7/MDP worker replies and closes at once: its reply and its dropped connection reach the
        // broker together. The reply must win; a broker that trusts the drop first requeues the request, and the client
        // waits for a worker that never comes.
        for (var round = 0; round < 20; round++)
        {
            using (var brief = new DealerSocket())
            {
                brief.Options.Linger = TimeSpan.FromSeconds(5);
                brief.Connect(broker.Endpoint!);
                brief.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpCommand.Ready]).SendFrame("brief");
                await TestBroker.WaitForWorkersAsync(client, "brief", 1);
                var pending = client.RequestAsync("brief", $"r{round}");
                var request = new List<byte[]>();
                while (brief.TryReceiveMultipartBytes(TimeSpan.FromSeconds(10), ref request!) && request[2][0] != MdpCommand.Request)
                {
                }

                Assert.Equal(MdpCommand.Request, request[2][0]);
                brief.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpCommand.Reply]).SendMoreFrame(request[3])
                    .SendMoreFrameEmpty().SendFrame("from brief");
                Assert.Equal("from brief", (await pending).BodyText);
            }

            await TestBroker.WaitForWorkersAsync(client, "brief", 0);
        }

        var stats = await TestBroker.StatsAsync(client, "brief");
        Assert.Equal((20L, 0), (stats.Served, stats.Queued));
    }

    [Fact]
    public async Task Graceful_worker_stop_finishes_what_it_holds_and_hands_new_work_to_others()
    {
        await using var broker = await TestBroker.StartAsync();
        var leaving = await TestBroker.StartWorkerAsync(broker.Endpoint!, "leaving", TimeSpan.FromMilliseconds(300));
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        var held = Enumerable.Range(0, 5).Select(i => client.RequestAsync("echo", $"{i}")).ToArray();
        await Poll.UntilAsync(() => leaving.InFlight == 5);
        var stopping = leaving.StopAsync();
        await using var staying = await TestBroker.StartWorkerAsync(broker.Endpoint!, "staying");
        var later = client.RequestAsync("echo", "later");

        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(await Task.WhenAll(held), r => Assert.Equal("leaving", r.BodyText));
        Assert.Equal("staying", (await later).BodyText);
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
    }
}

internal static class MdpCommand
{
    public const byte Ready = 0x01;
    public const byte Request = 0x02;
    public const byte Reply = 0x03;
    public const byte Disconnect = 0x05;
}
