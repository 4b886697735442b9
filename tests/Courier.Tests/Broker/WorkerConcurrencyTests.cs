using System.Text;
using Courier.Client;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>A worker runs at most its own Concurrency of handlers and holds its Prefetch waiting, whatever its broker sends.</summary>
public sealed class WorkerConcurrencyTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_worker_sent_more_requests_than_its_concurrency_and_prefetch_runs_only_that_many_holds_its_prefetch_and_answers_the_rest_503()
    {
        using var broker = new RouterSocket();
        broker.Options.ReceiveHighWatermark = 0;
        // Nor a limit on what it sends: a ROUTER drops what meets its high-water mark (1,000 by default), and on a loaded
        // machine the thousand requests below met it before the worker's I/O had read the first (seen in CI).
        broker.Options.SendHighWatermark = 0;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        var running = 0;
        var most = 0;
        using var release = new SemaphoreSlim(0);
        CourierHandler handler = async (request, cancellationToken) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await release.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref running);
            return request.Frames;
        };
        var logs = new RecordingLoggerFactory();
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "attacked") with
        {
            Service = "echo",
            Concurrency = 10,
            Prefetch = 5,
            Protocol = ClientProtocol.Mdp,
            LoggerFactory = logs,
            // The fake broker never sends a heartbeat: at the tests' 500 ms the worker gave it up within seconds and came back
            // under a new identity, and on a loaded machine that was before the thousand requests went to the old one (all
            // dropped, 0 refusals). It must stay connected for the whole test.
            HeartbeatInterval = Wait,
        };
        await using var worker = new CourierWorker(options, handler);
        await worker.StartAsync();

        // The worker says READY; the hostile "broker" answers with a thousand requests at once.
        var frames = new List<byte[]>();
        Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), "no READY");
        var identity = frames[0];
        for (var i = 0; i < 1000; i++)
        {
            broker.SendMoreFrame(identity).SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([0x02])
                .SendMoreFrame($"client-{i}").SendMoreFrameEmpty().SendFrame($"body {i}");
        }

        // 985 come back 503 while the first ten still run and five wait. The worker's heartbeats keep arriving meanwhile, so the wait is
        // bounded as a whole, not per message (a lost refusal hung this loop for good in CI).
        var seen = new Seen();
        var until = DateTime.UtcNow + Wait;
        while (seen.Refused < 985)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), $"{seen}; worker's log:\n{logs.AtLeast(LogLevel.Information)}");
            seen.Add(frames);
        }

        // The ten admitted handlers start on the thread pool: on a loaded machine some may not have begun yet (seen in CI).
        await Poll.UntilAsync(() => Volatile.Read(ref running) == 10, what: "the ten admitted handlers running");
        Assert.True(most <= 10, $"{most} handlers ran at once");

        // Released, the ten answer, then the five that waited, never more than ten at once.
        release.Release(15);
        until = DateTime.UtcNow + Wait;
        while (seen.Answered < 15)
        {
            Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), $"{seen}; worker's log:\n{logs.AtLeast(LogLevel.Information)}");
            seen.Add(frames);
        }

        Assert.True(most <= 10, $"{most} handlers ran at once");
        Assert.Equal(985, seen.Refused);
        Assert.Contains(logs.Messages, m => m.Contains("than its concurrency of 10 and prefetch of 5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_worker_still_running_handlers_of_a_lost_connection_answers_429_and_the_broker_serves_the_request_there_once_they_finish()
    {
        var first = await TestBroker.StartAsync();
        var endpoint = first.Endpoint!;
        using var gate = new SemaphoreSlim(0);
        var bodies = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var started = 0;
        var logs = new RecordingLoggerFactory();

        // A handler that does not heed its token, as long-running ones often do: it outlives the connection it came on.
        CourierHandler handler = async (request, _) =>
        {
            bodies.Enqueue(request.BodyText);
            Interlocked.Increment(ref started);
            await gate.WaitAsync(Wait, CancellationToken.None);
            return request.Frames;
        };
        await using var worker = await TestBroker.StartWorkerAsync(
            endpoint, "busy", service: "slow", concurrency: 1, configure: o => o with { LoggerFactory = logs }, handler: handler);
        await using (var client = TestServer.Client(endpoint))
        {
            await TestBroker.WaitForWorkersAsync(client, "slow", 1);
            _ = client.RequestAsync("slow", "lost");
            await Poll.UntilAsync(() => Volatile.Read(ref started) == 1, what: "the first handler running");
        }

        // The broker restarts: the worker registers again, its one handler still busy with the first broker's request.
        await first.DisposeAsync();
        using var port = await PortReservation.RetakeAsync(endpoint);
        await using var second = await TestBroker.StartAsync(o => o with { Endpoint = endpoint });
        port.Dispose();
        await using var caller = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(60) });
        await TestBroker.WaitForWorkersAsync(caller, "slow", 1);

        // The new broker counts room at the worker; the worker has none and says so (429, not 503: it is not stopping).
        var next = caller.RequestAsync("slow", "next");
        await Poll.UntilAsync(() => logs.Contains("prefetch of 0; answered 429"), Wait, "the worker refusing the request 429");
        Assert.False(next.IsCompleted, $"the refused request was answered ({next.Status})");

        // The broker takes the worker's room to be what it holds (nothing), and tries one more a tick.
        await Poll.UntilAsync(
            async () =>
            {
                using var json = System.Text.Json.JsonDocument.Parse((await caller.RequestAsync("mmi.workers", "slow")).Body);
                return json.RootElement.GetProperty("slow")[0].GetProperty("room").GetInt32() == 0;
            },
            Wait,
            "the worker's room at the broker down to what it holds");

        // The old handler finishes (its reply has nowhere to go): the broker offers the request again and it runs there.
        gate.Release(2);
        Assert.Equal("next", (await next.WaitAsync(Wait)).BodyText);
        Assert.Equal(["lost", "next"], bodies);
    }

    [Theory]
    [InlineData("courier/6", "429")]
    [InlineData("courier/5", "503")] // a broker before courier/6 would pass a 429 to the caller: it gets what it knows
    public async Task A_worker_over_capacity_answers_429_only_to_a_broker_that_agreed_on_courier_6(string version, string status)
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        using var release = new SemaphoreSlim(0);
        CourierHandler handler = async (request, cancellationToken) =>
        {
            await release.WaitAsync(cancellationToken);
            return request.Frames;
        };
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "full") with
        {
            Service = "echo",
            Concurrency = 1,
            HeartbeatInterval = Wait, // the fake broker never heartbeats: the worker must not give it up meanwhile
            DrainTimeout = TimeSpan.FromSeconds(1), // nor answers the probe a stop sends after DISCONNECT
        };
        await using var worker = new CourierWorker(options, handler);
        await worker.StartAsync();

        // The probe, answered as a Courier broker of that version would; then READY in that version's form.
        var (identity, probe, ready) = RawBroker.Register(broker, version, Wait);
        Assert.Equal(("mmi.courier", "courier/7"), (Encoding.UTF8.GetString(probe[3]), Encoding.UTF8.GetString(probe[4])));
        Assert.StartsWith($"{version} capacity=1", Encoding.UTF8.GetString(ready[^1]), StringComparison.Ordinal);

        // Two requests for its room of one: the second is refused at once, the first answered once released.
        for (ulong token = 1; token <= 2; token++)
        {
            RawBroker.SendRequest(broker, identity, token, "echo", Encoding.UTF8.GetBytes($"body {token}"));
        }

        var frames = new List<byte[]>();

        Assert.Equal((2ul, status), await ReplyAsync());
        release.Release();
        Assert.Equal((1ul, "200"), await ReplyAsync());

        // A lone Courier REPLY: "CURW02"+0x03+token+status, body (heartbeats skipped).
        async Task<(ulong Token, string Status)> ReplyAsync()
        {
            var until = DateTime.UtcNow + Wait;
            while (true)
            {
                Assert.True(broker.TryReceiveMultipartBytesBefore(until, ref frames!), "no reply");
                if (frames.Count >= 2 && frames[1].Length == CourierWorkerFrame.ReplyLength)
                {
                    return (System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(7)), Encoding.ASCII.GetString(frames[1], 15, 3));
                }

                await Task.Yield();
            }
        }
    }

    /// <summary>What the fake broker received from the worker, by kind: a failure says all of it.</summary>
    private sealed class Seen
    {
        public int Refused { get; private set; }

        public int Answered { get; private set; }

        private int _heartbeats;
        private readonly Dictionary<string, int> _other = [];

        public void Add(List<byte[]> frames)
        {
            var command = frames.Count > 3 && frames[3].Length == 1 ? frames[3][0] : -1;
            var status = command == 0x03 && frames.Count >= 7 ? Encoding.ASCII.GetString(frames[6]) : null;
            if (status == "503")
            {
                Refused++;
            }
            else if (status?.StartsWith("body ", StringComparison.Ordinal) == true)
            {
                Answered++;
            }
            else if (command == 0x04)
            {
                _heartbeats++;
            }
            else
            {
                var key = $"command {command}, {frames.Count} frames{(status is null ? "" : $", '{status}'")}";
                _other[key] = _other.GetValueOrDefault(key) + 1;
            }
        }

        public override string ToString()
            => $"{Refused} refusals, {Answered} answers, {_heartbeats} heartbeats, other: [{string.Join("; ", _other.Select(o => $"{o.Key} ×{o.Value}"))}]";
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
