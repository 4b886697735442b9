using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>Deadlines and cancellation that travel (courier/5, docs/protocol.md §8): to the broker, the worker, the server, the handler.</summary>
public sealed class DeadlineCancelTests
{
    [Fact]
    public async Task The_broker_answers_504_instead_of_dispatching_a_request_whose_budget_ran_out_in_its_queue()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = Timeout.InfiniteTimeSpan });
        using var dealer = TestDealer.Connect(broker.Endpoint!);
        dealer.SendMoreFrameEmpty().SendMoreFrame(Request(1, "late", budgetMs: 200)).SendFrame("x");

        var reply = new List<byte[]>();
        Assert.True(dealer.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref reply!));
        Assert.Equal("CURC02", Encoding.ASCII.GetString(reply[1], 0, 6));
        Assert.Equal("504", Encoding.ASCII.GetString(reply[1], 14, 3));

        // A worker that comes now never gets it.
        var ran = 0;
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", service: "late", handler: (request, _) =>
        {
            Interlocked.Increment(ref ran);
            return ValueTask.FromResult(request.Frames);
        });
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "late", 1);
        Assert.Equal("y", (await client.RequestAsync("late", "y")).BodyText);
        Assert.Equal(1, ran);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_handlers_token_fires_at_the_callers_deadline(bool brokered)
    {
        var fired = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = System.Diagnostics.Stopwatch.StartNew();
        await using var host = await HostAsync(brokered, Waiting(fired, sent));
        await using var client = TestServer.Client(host.Endpoint, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        await host.ReadyAsync(client);

        sent.Restart();
        var request = client.RequestAsync("wait", "x", CourierRequestOptions.Default with { Deadline = TimeSpan.FromMilliseconds(700) });

        await Assert.ThrowsAsync<CourierTimeoutException>(() => request);
        // Counted from the send, not from the handler's start (which a loaded machine may delay to the deadline itself).
        var after = await fired.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(after >= TimeSpan.FromMilliseconds(600), $"fired {after} after the send"); // not at once: at the deadline
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_caller_cancelling_its_request_fires_the_handlers_token(bool brokered)
    {
        var fired = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await HostAsync(brokered, Waiting(fired));
        await using var client = TestServer.Client(host.Endpoint, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await host.ReadyAsync(client);
        using var cancellation = new CancellationTokenSource();

        var request = client.RequestAsync("wait", "x", cancellation.Token);
        await Poll.UntilAsync(() => host.Started, what: "the handler started");
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await fired.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("still", (await client.RequestAsync("echo", "still")).BodyText);
    }

    [Fact]
    public async Task Cancelling_an_idempotent_request_moved_after_a_timeout_fires_the_token_of_every_run()
    {
        // Two servers; the first attempt's run goes on when the request moves to the other after its attempt timeout.
        var tokens = new List<(string Server, Task Fired)>();
        CourierHandler Waiting(string name) => async (_, token) =>
        {
            var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            token.Register(() => fired.TrySetResult());
            lock (tokens)
            {
                tokens.Add((name, fired.Task));
            }

            await fired.Task;
            return CourierBody.Text("never");
        };
        await using var a = await TestServer.StartAsync(map: s => s.Map("wait", Waiting("a")));
        await using var b = await TestServer.StartAsync(map: s => s.Map("wait", Waiting("b")));
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [a.Endpoint!, b.Endpoint!],
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 30,
        });
        using var cancellation = new CancellationTokenSource();

        // A deadline far off: the budget that travels with each attempt fires no token within the test.
        var request = client.RequestAsync("wait", "x", CourierRequestOptions.Default with { Idempotent = true, Deadline = TimeSpan.FromMinutes(5) }, cancellation.Token);
        await Poll.UntilAsync(() => { lock (tokens) { return tokens.Select(t => t.Server).Distinct().Count() == 2; } }, what: "a run on each server");
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        Task[] fired;
        lock (tokens)
        {
            fired = [.. tokens.Select(t => t.Fired)];
        }

        await Task.WhenAll(fired).WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_cancelled_request_still_queued_at_the_broker_is_dropped_and_never_runs()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = Timeout.InfiniteTimeSpan });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        using var cancellation = new CancellationTokenSource();
        var request = client.RequestAsync("queued", "x", cancellation.Token);
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, "queued")).Queued == 1, what: "queued at the broker");

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, "queued")).Queued == 0, what: "dropped from the queue");
        var ran = 0;
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", service: "queued", handler: (r, _) =>
        {
            Interlocked.Increment(ref ran);
            return ValueTask.FromResult(r.Frames);
        });
        await TestBroker.WaitForWorkersAsync(client, "queued", 1);
        Assert.Equal("after", (await client.RequestAsync("queued", "after")).BodyText);
        Assert.Equal(1, ran);
    }

    /// <summary>A handler that waits until its token fires, and reports when: on <paramref name="clock"/>, or since its start.</summary>
    private static CourierHandler Waiting(TaskCompletionSource<TimeSpan> fired, System.Diagnostics.Stopwatch? clock = null) => async (request, cancellationToken) =>
    {
        var started = clock ?? System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        finally
        {
            fired.TrySetResult(started.Elapsed);
        }

        return request.Frames;
    };

    private static async Task<Host> HostAsync(bool brokered, CourierHandler handler)
    {
        var host = new Host();
        CourierHandler marking = (request, token) =>
        {
            host.Started = true;
            return handler(request, token);
        };
        if (brokered)
        {
            host.Broker = await TestBroker.StartAsync();
            host.Worker = new Worker.CourierWorker(TestBroker.WorkerOptions(host.Broker.Endpoint!, "w")).Map("wait", marking).Map("echo", CourierServices.Echo);
            await host.Worker.StartAsync();
            host.Endpoint = host.Broker.Endpoint!;
        }
        else
        {
            host.Server = await TestServer.StartAsync(map: s => s.Map("wait", marking));
            host.Endpoint = host.Server.Endpoint!;
        }

        return host;
    }

    /// <summary>A server, or a broker and a worker, serving <c>wait</c> and <c>echo</c>.</summary>
    private sealed class Host : IAsyncDisposable
    {
        public string Endpoint { get; set; } = "";

        public volatile bool Started;

        public CourierServer? Server { get; set; }

        public Courier.Broker.CourierBroker? Broker { get; set; }

        public Worker.CourierWorker? Worker { get; set; }

        public async Task ReadyAsync(CourierClient client)
        {
            if (Broker is not null)
            {
                await TestBroker.WaitForWorkersAsync(client, "wait", 1);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Worker is not null)
            {
                await Worker.DisposeAsync();
            }

            if (Broker is not null)
            {
                await Broker.DisposeAsync();
            }

            if (Server is not null)
            {
                await Server.DisposeAsync();
            }
        }
    }

    /// <summary>A courier/5 request header frame (docs/protocol.md §8), written here independently of the library.</summary>
    [Fact]
    public async Task A_cancel_read_in_the_same_turn_as_its_batched_request_reaches_the_worker_after_it()
    {
        // The broker packs a batch's requests for the worker until its turn ends; a CANCEL read in that turn must not
        // leave before them, or the worker finds nothing to cancel and the request runs with a token that never fires.
        var started = 0;
        var cancelled = 0;
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", service: "wait", concurrency: 50, handler: async (request, token) =>
        {
            Interlocked.Increment(ref started);
            try
            {
                await Task.Delay(Timeout.Infinite, token);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                throw;
            }

            return request.Frames;
        });
        await using (var client = TestServer.Client(broker.Endpoint!))
        {
            await TestBroker.WaitForWorkersAsync(client, "wait", 1);
        }

        using var dealer = TestDealer.Connect(broker.Endpoint!);
        const int Requests = 20;
        for (var id = 1UL; id <= Requests; id++)
        {
            // Each batch and its CANCEL back to back: the broker reads them in one turn most times.
            dealer.SendMoreFrameEmpty().SendFrame(BatchOfOne(id, "wait"));
            dealer.SendMoreFrameEmpty().SendFrame(Cancel(id));
        }

        // The broker reads a connection's messages in order: once it answered an 8/MMI query sent after them, it has read
        // every batch and CANCEL.
        // A cancelled request's 504 (its handler stopped on its token) may come back first: the worker answers as soon
        // as it reads the CANCEL, which can be before the broker reads the query.
        dealer.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("mmi.service").SendFrame("wait");
        var mmi = new List<byte[]>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        do
        {
            Assert.True(dealer.TryReceiveMultipartBytesBefore(until, ref mmi!), "no answer to the 8/MMI query");
        }
        while (!(mmi.Count >= 3 && Encoding.ASCII.GetString(mmi[2]) == "mmi.service"));

        // Every request ends: withdrawn before its handler ran, or its handler's token fired. None runs on.
        await Poll.UntilAsync(() => broker.TrackedInProgress == 0, TimeSpan.FromSeconds(20),
            "every cancelled request ended (the broker tracks none in progress)");
        Assert.Equal(Volatile.Read(ref started), Volatile.Read(ref cancelled));
    }

    [Fact]
    public async Task A_request_whose_deadline_passes_while_it_waits_for_a_server_handler_never_runs()
    {
        var runs = new List<string>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(o => o with { MaxConcurrency = 1 }, s => s.Map("one", async (request, _) =>
        {
            lock (runs)
            {
                runs.Add(request.BodyText);
            }

            await release.Task;
            return CourierBody.Text(request.BodyText);
        }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });

        var first = client.RequestAsync("one", "first");
        await Poll.UntilAsync(() => { lock (runs) { return runs.Count == 1; } }, what: "the first request holding the one handler");
        var waiting = client.RequestAsync("one", "late", CourierRequestOptions.Default with { Deadline = TimeSpan.FromMilliseconds(300) });
        await Assert.ThrowsAsync<CourierTimeoutException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(20)));

        // The server's budget counts from when it received the request, which can be later than the client sent it: the
        // handler frees up only once the server's own tick has marked the waiting request expired. It is then answered,
        // not run.
        await Poll.UntilAsync(async () => await server.QueuedFiredAsync() == 1, TimeSpan.FromSeconds(20), "the server marked the waiting request past its deadline");
        release.SetResult();
        Assert.Equal("first", (await first.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
        Assert.Equal("next", (await client.RequestAsync("one", "next").WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
        lock (runs)
        {
            Assert.Equal(["first", "next"], runs);
        }
    }

    /// <summary>A courier/5 client batch (<c>CURB03</c> 0x05) of one record, a 60 s budget, written from docs/protocol.md §8.</summary>
    private static byte[] BatchOfOne(ulong id, string service)
    {
        var frame = new byte[7 + 16 + 8 + 1 + service.Length + 2 + 6 + 4 + 1];
        "CURB03"u8.CopyTo(frame);
        frame[6] = 0x05;
        frame.AsSpan(7, 16).Fill(0x5B);
        var at = 23;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(at), id);
        frame[at + 8] = (byte)service.Length;
        Encoding.ASCII.GetBytes(service).CopyTo(frame, at + 9);
        at += 9 + service.Length;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), 6);
        frame[at + 2] = 1; // attempt; flags 0: at most once
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(at + 4), 60_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(at + 8), 1);
        frame[at + 12] = (byte)'x';
        return frame;
    }

    private static byte[] Cancel(ulong id)
    {
        var frame = new byte[31];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x03;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x5B);
        return frame;
    }

    private static byte[] Request(ulong id, string service, uint budgetMs)
    {
        var frame = new byte[38 + service.Length];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x5A);
        frame[31] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), budgetMs);
        frame[37] = (byte)service.Length;
        Encoding.ASCII.GetBytes(service).CopyTo(frame, 38);
        return frame;
    }
}
