using System.Buffers.Binary;
using System.Text;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Tests.Integration;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>A worker serving several services: on one connection with a Courier broker (courier/4), one connection each otherwise.</summary>
public sealed class MultiServiceWorkerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_worker_maps_no_more_services_than_a_broker_takes_on_one_connection()
    {
        CourierHandler echo = (request, _) => ValueTask.FromResult(request.Frames);
        await using var worker = new CourierWorker(TestBroker.WorkerOptions("tcp://127.0.0.1:1", "many"), echo);
        var mapped = 0;
        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            while (mapped <= CourierWorker.MaxServices)
            {
                worker.Map($"svc-{mapped:D4}", echo);
                mapped++;
            }
        });

        Assert.Contains($"at most {CourierWorker.MaxServices} services", error.Message, StringComparison.Ordinal);
        Assert.Equal(CourierWorker.MaxServices - 1, mapped); // its options' own service is the first
    }

    [Fact]
    public async Task Worker_with_two_services_registers_both_on_one_connection_by_its_name_and_serves_both()
    {
        using var log = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = log });
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "inventory-1"))
            .Map("inventory.get", TestBroker.Tagged("get"), concurrency: 16)
            .Map("inventory.put", TestBroker.Tagged("put"));
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "inventory.get", 1);
        await TestBroker.WaitForWorkersAsync(client, "inventory.put", 1);

        var replies = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => client.RequestAsync(i % 2 == 0 ? "inventory.get" : "inventory.put", $"{i}")));

        Assert.Equal(
            Enumerable.Range(0, 60).Select(i => (i % 2 == 0 ? "get" : "put", $"{i}")),
            replies.Select(r => (r.BodyText, Encoding.UTF8.GetString(r.Frames[1].Span))));
        var get = Assert.Single(await TestBroker.WorkersAsync(client, "inventory.get"));
        var put = Assert.Single(await TestBroker.WorkersAsync(client, "inventory.put"));
        Assert.Equal(get.Id, put.Id); // one connection: one routing id under both services
        Assert.Equal(("inventory-1", 16), (get.Name, get.Capacity));
        Assert.Equal(("inventory-1", CourierWorkerOptions.Default.Concurrency), (put.Name, put.Capacity));
        Assert.True(log.Contains("Worker inventory-1 ready for inventory.get (capacity 16, courier/7"), log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.True(log.Contains("Worker inventory-1 ready for inventory.put"));

        // One DISCONNECT ends both registrations: a goodbye, not a warning.
        await worker.StopAsync();
        await TestBroker.WaitForWorkersAsync(client, "inventory.get", 0);
        await TestBroker.WaitForWorkersAsync(client, "inventory.put", 0);
        Assert.True(log.Contains("Worker inventory-1 of inventory.get, inventory.put left (it stopped, having answered all it took)"), log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.Equal("", log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Warning));
    }

    [Fact]
    public async Task A_slow_service_at_its_capacity_does_not_hold_up_the_other_service_of_the_same_worker()
    {
        await using var broker = await TestBroker.StartAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = 0;
        CourierHandler slow = async (request, cancellationToken) =>
        {
            Interlocked.Increment(ref running);
            await gate.Task.WaitAsync(cancellationToken);
            return [request.Body];
        };
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "mixed"))
            .Map("slow", slow, concurrency: 2)
            .Map("fast", TestBroker.Tagged("fast"), concurrency: 2);
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "slow", 1);
        await TestBroker.WaitForWorkersAsync(client, "fast", 1);

        var held = Enumerable.Range(0, 6).Select(i => client.RequestAsync("slow", $"s{i}")).ToArray();
        await Poll.UntilAsync(async () => await TestBroker.StatsAsync(client, "slow") is { InFlight: 2, Queued: 4 }, what: "2 slow requests at the worker, 4 queued");

        // 40 fast requests, 2 at a time at the worker, while both slow slots stay taken.
        var fast = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.RequestAsync("fast", $"f{i}"))).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(fast, r => Assert.Equal("fast", r.BodyText));
        Assert.Equal(2, Volatile.Read(ref running));
        Assert.Equal((2, 4), await TestBroker.StatsAsync(client, "slow") is var s ? (s.InFlight, s.Queued) : default);
        gate.SetResult();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"s{i}"), (await Task.WhenAll(held).WaitAsync(TimeSpan.FromSeconds(30))).Select(r => r.BodyText));
    }

    [SkippableFact]
    public async Task Worker_with_two_services_serves_both_through_a_stock_7MDP_broker_on_a_connection_each()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = ChildProcess.StartPython("mdp_broker.py", "tcp://127.0.0.1:*");
        var endpoint = await broker.WaitForEndpointAsync();
        using var log = new RecordingLoggerFactory();
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(endpoint, "two") with { HeartbeatInterval = TimeSpan.FromSeconds(2.5), LoggerFactory = log })
            .Map("alpha", TestBroker.Tagged("alpha"))
            .Map("beta", TestBroker.Tagged("beta"));
        await worker.StartAsync();
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(5), Retries = 2 });

        // The stock broker takes one READY per connection (a second one would end the registration): replies to both
        // services, over and over, show each has a connection of its own.
        for (var i = 0; i < 10; i++)
        {
            var service = i % 2 == 0 ? "alpha" : "beta";
            var reply = await client.RequestAsync(service, $"{i}");
            Assert.Equal((service, $"{i}"), (reply.BodyText, Encoding.UTF8.GetString(reply.Frames[1].Span)));
        }

        Assert.True(log.Contains("registering for alpha at " + endpoint + " as 7/MDP"), log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.True(log.Contains("registering for beta at " + endpoint + " as 7/MDP"));
        Assert.False(log.Contains("lost the broker"), log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.False(broker.HasExited, broker.Stderr);
    }

    [Fact]
    public async Task Requests_of_both_services_go_back_to_their_queues_when_the_connection_that_held_them_drops()
    {
        // A liveness far beyond the test: only the dropped connection can tell the broker.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(20) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        var pending = new List<(string Service, string Body, Task<CourierReply> Reply)>();
        using (var doomed = TestDealer.Connect(broker.Endpoint!))
        {
            Send(doomed, "", "MDPW01", "\u0001", "alpha", "courier/4 capacity=5 name=doomed");
            Send(doomed, "", "MDPW01", "\u0001", "beta", "courier/4 capacity=5 name=doomed");
            await TestBroker.WaitForWorkersAsync(client, "alpha", 1);
            await TestBroker.WaitForWorkersAsync(client, "beta", 1);
            Assert.Equal("doomed", Assert.Single(await TestBroker.WorkersAsync(client, "beta")).Name);

            foreach (var service in new[] { "alpha", "beta" })
            {
                for (var i = 0; i < 3; i++)
                {
                    // Idempotent: only such requests go to another worker after theirs dropped (at-most-once, docs/protocol.md §8).
                    pending.Add((service, $"{service}-{i}", client.RequestAsync(service, $"{service}-{i}", CourierRequestOptions.Default with { Idempotent = true })));
                }
            }

            // Each request names its service (courier/4): in the header after the token, or as its batch record's tag.
            var received = ReceiveRequests(doomed, 6);
            Assert.All(received, r => Assert.StartsWith(r.Service + "-", r.Body, StringComparison.Ordinal));
            Assert.Equal(pending.Select(p => p.Body).Order(), received.Select(r => r.Body).Order());
        }

        await TestBroker.WaitForWorkersAsync(client, "alpha", 0);
        await TestBroker.WaitForWorkersAsync(client, "beta", 0);
        Assert.Equal((3, 3), ((await TestBroker.StatsAsync(client, "alpha")).Queued, (await TestBroker.StatsAsync(client, "beta")).Queued));
        Assert.DoesNotContain(pending, p => p.Reply.IsCompleted);
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "heir"))
            .Map("alpha", TestBroker.Tagged("alpha"))
            .Map("beta", TestBroker.Tagged("beta"));
        await worker.StartAsync();

        foreach (var (service, body, reply) in pending)
        {
            var answered = await reply.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((service, body), (answered.BodyText, Encoding.UTF8.GetString(answered.Frames[1].Span)));
        }
    }

    [Fact]
    public async Task A_stock_worker_is_known_by_its_routing_id()
    {
        // The stock worker never heartbeats: a broker at the tests' 500 ms would drop it within seconds.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var client = TestServer.Client(broker.Endpoint!);
        using var stock = TestDealer.Connect(broker.Endpoint!);
        Send(stock, "", "MDPW01", "\u0001", "plain");
        await TestBroker.WaitForWorkersAsync(client, "plain", 1);

        var worker = Assert.Single(await TestBroker.WorkersAsync(client, "plain"));

        Assert.Equal(worker.Id, worker.Name);
        Assert.Matches("^[0-9A-F]+$", worker.Id);
    }

    [Fact]
    public async Task Worker_with_two_services_opens_a_connection_each_to_a_Courier_broker_from_before_courier_4()
    {
        // The broker is a raw ROUTER socket answering as a courier/3 broker does: courier/2 to an offer of courier/7.
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        // This broker never heartbeats: at the test brokers' 500 ms the worker gave it up within seconds and probed again
        // from new connections, and on a loaded machine the READYs this test waits for never came. Nor does it answer the
        // probe a stop sends after DISCONNECT: the stop waits for it only a second.
        await using var worker = new CourierWorker(TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "split") with { HeartbeatInterval = TimeSpan.FromSeconds(30), DrainTimeout = TimeSpan.FromSeconds(1) })
            .Map("alpha", TestBroker.Tagged("alpha"), concurrency: 3)
            .Map("beta", TestBroker.Tagged("beta"), concurrency: 4);
        await worker.StartAsync();

        var probe = Receive(broker, m => m.Count == 5 && Text(m[3]) == "mmi.courier");
        Assert.Equal("courier/7", Text(probe[4]));
        Send(broker, probe[0], "", "MDPC01", "mmi.courier", "200", "courier/2");
        probe = Receive(broker, m => m.Count == 5 && Text(m[3]) == "mmi.courier");
        Assert.Equal("courier/3", Text(probe[4]));
        Send(broker, probe[0], "", "MDPC01", "mmi.courier", "200", "courier/3");

        // Two READYs, from two connections, each in courier/3's form (no name: a courier/3 broker would not parse it).
        var readies = new Dictionary<string, byte[]>();
        while (readies.Count < 2)
        {
            var ready = Receive(broker, m => m.Count == 6 && m[3].SequenceEqual(new byte[] { 1 }));
            readies.Add(Text(ready[4]) + " " + Text(ready[5]), ready[0]);
        }

        Assert.Equal(["alpha courier/3 capacity=3", "beta courier/3 capacity=4"], readies.Keys.Order());
        var alpha = readies["alpha courier/3 capacity=3"];
        var beta = readies["beta courier/3 capacity=4"];
        Assert.NotEqual(Convert.ToHexString(alpha), Convert.ToHexString(beta));

        // REQUESTs without a service, as courier/3 has them: each connection serves its one service.
        foreach (var (identity, token, expected) in new[] { (alpha, 7UL, "alpha"), (beta, 8UL, "beta") })
        {
            var header = new byte[15];
            "CURW02"u8.CopyTo(header);
            header[6] = 2;
            BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(7), token);
            var request = new NetMQMessage();
            request.Append(identity);
            request.Append(header);
            request.Append("x");
            broker.SendMultipartMessage(request);
            var reply = Receive(broker, m => m.Count >= 3 && m[1].Length == 18 && Text(m[1]).StartsWith("CURW02", StringComparison.Ordinal));
            Assert.Equal(Convert.ToHexString(identity), Convert.ToHexString(reply[0]));
            Assert.Equal((token, "200", expected), (BinaryPrimitives.ReadUInt64BigEndian(reply[1].AsSpan(7)), Encoding.ASCII.GetString(reply[1], 15, 3), Text(reply[2])));
        }
    }

    private static string Text(byte[] frame) => Encoding.UTF8.GetString(frame);

    private static void Send(NetMQSocket socket, params string[] frames)
    {
        var message = new NetMQMessage();
        foreach (var frame in frames)
        {
            message.Append(Encoding.UTF8.GetBytes(frame));
        }

        socket.SendMultipartMessage(message);
    }

    private static void Send(RouterSocket socket, byte[] identity, params string[] frames)
    {
        var message = new NetMQMessage();
        message.Append(identity);
        foreach (var frame in frames)
        {
            message.Append(Encoding.UTF8.GetBytes(frame));
        }

        socket.SendMultipartMessage(message);
    }

    private static List<byte[]> Receive(NetMQSocket socket, Func<List<byte[]>, bool> match)
    {
        var frames = new List<byte[]>();
        for (var deadline = DateTime.UtcNow + Wait; DateTime.UtcNow < deadline;)
        {
            if (socket.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(200), ref frames!) && match(frames))
            {
                return frames;
            }
        }

        throw new TimeoutException("no matching message");
    }

    /// <summary>Courier REQUESTs to a courier/4 worker, alone or in batches, as (service, body); heartbeats meanwhile.</summary>
    private static List<(string Service, string Body)> ReceiveRequests(DealerSocket worker, int count)
    {
        var requests = new List<(string, string)>();
        var frames = new List<byte[]>();
        for (var deadline = DateTime.UtcNow + Wait; requests.Count < count && DateTime.UtcNow < deadline;)
        {
            if (!worker.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(200), ref frames!))
            {
                Send(worker, "", "MDPW01", "\u0004");
            }
            else if (frames.Count == 1 && BatchFrames.Is(frames[0], 3))
            {
                requests.AddRange(BatchFrames.Parse(frames[0]).Select(r => (r.Tag, r.Body)));
            }
            else if (frames.Count == 2 && frames[0].Length > 15 && Text(frames[0]).StartsWith("CURW02", StringComparison.Ordinal) && frames[0][6] == 2)
            {
                requests.Add((Encoding.UTF8.GetString(frames[0], 15, frames[0].Length - 15), Text(frames[1])));
            }
        }

        Assert.Equal(count, requests.Count);
        return requests;
    }
}
