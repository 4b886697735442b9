using System.Text;
using System.Text.Json;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>A real `courier broker` process, shared by tests that misbehave at it.</summary>
public sealed class BrokerProcessFixture : IAsyncLifetime
{
    public ChildProcess Process { get; private set; } = null!;

    public string Endpoint { get; private set; } = "";

    public int Port => Ports.Of(Endpoint);

    public async Task InitializeAsync()
    {
        // The tests' raw workers never heartbeat: at 3 × 500 ms the broker dropped one whose test was still stepping
        // on a loaded machine. A worker that leaves is dropped when its connection ends, whatever the liveness.
        (Process, Endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*", "--heartbeat", "500ms", "--liveness", "40");
    }

    public async Task DisposeAsync() => await Process.DisposeAsync();

    /// <summary>Asserts the broker process is alive and still brokers a request end to end.</summary>
    public async Task AssertStillServingAsync()
    {
        Assert.False(Process.HasExited, $"broker died: {Process.Stderr}");
        await using var worker = await TestBroker.StartWorkerAsync(Endpoint, "canary", service: "canary");
        await using var client = TestServer.Client(Endpoint);
        Assert.Equal("canary", (await client.RequestAsync("canary", "x")).BodyText);
    }
}

public sealed class BrokerProtocolTests(BrokerProcessFixture broker) : IClassFixture<BrokerProcessFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("second READY")]
    [InlineData("unknown command")]
    [InlineData("REPLY for nothing")]
    [InlineData("HEARTBEAT before READY")]
    [InlineData("REPLY before READY")]
    [InlineData("Courier REPLY from a plain worker")]
    [InlineData("batch from a worker that did not offer batches")]
    public async Task Worker_protocol_violation_gets_DISCONNECT_and_the_broker_keeps_serving(string violation)
    {
        using var worker = Connect();
        var ready = new[] { "", "MDPW01", "\u0001", "violations" };
        string[][] script = violation switch
        {
            "second READY" => [ready, ready],
            "unknown command" => [ready, ["", "MDPW01", "\u0009"]],
            "REPLY for nothing" => [ready, ["", "MDPW01", "\u0003", "12345678", "", "body"]],
            "HEARTBEAT before READY" => [["", "MDPW01", "\u0004"]],
            "Courier REPLY from a plain worker" => [ready, ["CURW02\u000312345678200", "body"]],
            "batch from a worker that did not offer batches" =>
                [["", "MDPW01", "\u0001", "violations", "courier/2 capacity=2"], ["CURB03\u000412345678\u0003200\0\0\0\u0001x"]],
            _ => [["", "MDPW01", "\u0003", "12345678", "", "body"]],
        };
        foreach (var message in script)
        {
            Send(worker, message);
        }

        Assert.True(ReceiveUntil(worker, m => m.Count >= 3 && m[2] == "\u0005"), "expected DISCONNECT");
        await broker.AssertStillServingAsync();
    }

    [Fact]
    public async Task Courier_worker_takes_requests_and_answers_with_one_header_frame()
    {
        using var worker = Connect();
        Send(worker, ["", "MDPW01", "\u0001", "compact", "courier/2 capacity=2"]);
        await using var client = TestServer.Client(broker.Endpoint);

        var served = client.RequestAsync("compact", "hello");
        var request = ReceiveCourierRequest(worker);
        Assert.Equal("hello", Encoding.UTF8.GetString(request[1]));
        Reply(worker, request[0], "200", "hi back");
        Assert.Equal("hi back", (await served).BodyText);

        var failed = client.RequestAsync("compact", "x");
        Reply(worker, ReceiveCourierRequest(worker)[0], "500", "boom");
        var error = await Assert.ThrowsAsync<Courier.CourierRemoteException>(() => failed);
        Assert.Equal((500, "boom"), (error.StatusCode, error.RemoteMessage));
    }

    [Fact]
    public async Task A_batch_of_requests_reaches_a_batching_worker_in_one_frame_and_its_replies_return_in_one()
    {
        using var worker = Connect();
        Send(worker, ["", "MDPW01", "\u0001", "batched", "courier/3 capacity=50"]);
        Assert.True(ReceiveUntil(worker, m => m.Count == 3 && m[2] == "\u0004"), "expected the broker's first HEARTBEAT");

        // 20 requests, a bad service name and an 8/MMI query in one batch, and bytes that are no whole record.
        using var client = Connect();
        var requests = Enumerable.Range(1, 20).Select(i => ((ulong)i, "batched", $"body {i}")).ToList();
        byte[] frame = [.. BatchFrames.Build(1, [.. requests, (100, "bad\u0001name", "x"), (101, "mmi.courier", "courier/3")]), 1, 2, 3];
        client.SendMoreFrameEmpty().SendFrame(frame);

        // The worker gets all 20 in one frame, with the broker's tokens in place of the client's ids.
        var batch = ReceiveFrames(worker, m => m.Count == 1 && BatchFrames.Is(m[0], 3));
        var received = BatchFrames.Parse(batch[0]);
        Assert.Equal(requests.Select(r => r.Item3), received.Select(r => r.Body));
        Assert.All(received, r => Assert.Equal("", r.Tag));
        worker.SendFrame(BatchFrames.Build(4, received.Select(r => (r.Id, "200", "re " + r.Body))));

        // The client gets the errors and the 8/MMI answer on their own, and the 20 replies in one batch.
        var seen = new Dictionary<ulong, (string Status, string Body)>();
        while (seen.Count < 22)
        {
            var message = ReceiveFrames(client, m => m.Count >= 2 && m[0].Length == 0);
            if (BatchFrames.Is(message[1], 2))
            {
                Assert.Equal(20, BatchFrames.Parse(message[1]).Count);
                foreach (var reply in BatchFrames.Parse(message[1]))
                {
                    seen.Add(reply.Id, (reply.Tag, reply.Body));
                }
            }
            else
            {
                var header = message[1];
                Assert.Equal("CURC02", Encoding.ASCII.GetString(header, 0, 6));
                seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(6)), (Encoding.ASCII.GetString(header, 14, 3), Encoding.UTF8.GetString(message[2])));
            }
        }

        Assert.All(requests, r => Assert.Equal(("200", "re " + r.Item3), seen[r.Item1]));
        Assert.Equal("400", seen[100].Status);
        Assert.Equal(("200", "courier/3"), seen[101]);
        await broker.AssertStillServingAsync();
    }

    private static List<byte[]> ReceiveFrames(DealerSocket socket, Func<List<byte[]>, bool> match)
    {
        // Bounded as a whole: the broker's heartbeats would keep a per-message wait alive for good.
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        while (socket.TryReceiveMultipartBytesBefore(until, ref frames!))
        {
            if (match(frames))
            {
                return frames;
            }
        }

        throw new TimeoutException("no matching message");
    }

    /// <summary>Waits for a Courier REQUEST (<c>"CURW02"+0x02+token, body</c>), heartbeating meanwhile.</summary>
    private static List<byte[]> ReceiveCourierRequest(DealerSocket worker)
    {
        var frames = new List<byte[]>();
        for (var deadline = DateTime.UtcNow + Wait; DateTime.UtcNow < deadline;)
        {
            if (!worker.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(200), ref frames!))
            {
                Send(worker, ["", "MDPW01", "\u0004"]);
            }
            else if (frames.Count >= 2 && frames[0].Length == 15 && Encoding.ASCII.GetString(frames[0], 0, 6) == "CURW02" && frames[0][6] == 2)
            {
                return frames;
            }
        }

        throw new TimeoutException("no Courier REQUEST");
    }

    private static void Reply(DealerSocket worker, byte[] requestHeader, string status, string body)
    {
        byte[] header = [.. "CURW02"u8, 0x03, .. requestHeader.AsSpan(7, 8), .. Encoding.ASCII.GetBytes(status)];
        worker.SendMoreFrame(header).SendFrame(body);
    }

    [Fact]
    public async Task Random_bytes_and_forged_frame_headers_on_the_port_leave_the_broker_serving()
    {
        var garbage = new byte[32 * 1024];
        new Random(7).NextBytes(garbage);
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(broker.Port, garbage, Wait));
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(broker.Port, RawZmtp.Zmtp10LongFrame(2L << 30), Wait));
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(broker.Port, [.. RawZmtp.GreetingAndReady(), .. RawZmtp.LongFrameHeader(2L << 30)], Wait));

        await broker.AssertStillServingAsync();
    }

    [Fact]
    public async Task Malformed_client_requests_get_error_replies()
    {
        using var client = Connect();
        Send(client, ["", "CURC02req-0001"]); // request id, but no service
        Assert.True(ReceiveUntil(client, m => m[0] == "" && m[1] == "CURC02req-0001400"));
        Send(client, ["", "MDPC01", "bad\u0002service", "x"]);
        Assert.True(ReceiveUntil(client, m => m[0] == "" && m[3] == "400"));
        await broker.AssertStillServingAsync();
    }

    [Fact]
    public async Task Mmi_answers_service_workers_stats_and_501()
    {
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint, "mmi-worker", service: "mmi-test", concurrency: 7);
        await using var client = TestServer.Client(broker.Endpoint);
        await TestBroker.WaitForWorkersAsync(client, "mmi-test", 1);
        var served = await client.RequestAsync("mmi-test", "x");
        Assert.Equal("x", Encoding.UTF8.GetString(served.Frames[1].Span));

        Assert.Equal("200", (await client.RequestAsync("mmi.service", "mmi-test")).BodyText);
        Assert.Equal("404", (await client.RequestAsync("mmi.service", "no-such-service")).BodyText);
        Assert.Equal("501", (await client.RequestAsync("mmi.frobnicate", "")).BodyText);

        using var workers = JsonDocument.Parse((await client.RequestAsync("mmi.workers", "mmi-test")).Body);
        var entry = Assert.Single(workers.RootElement.GetProperty("mmi-test").EnumerateArray());
        Assert.Equal(7, entry.GetProperty("capacity").GetInt32());
        Assert.Equal("mmi-worker", entry.GetProperty("name").GetString());
        Assert.True(entry.GetProperty("courier").GetBoolean());

        var stats = await TestBroker.StatsAsync(client, "mmi-test");
        Assert.Equal((1, 0, 0, 1L, 0L), stats);
    }

    private DealerSocket Connect() => TestDealer.Connect(broker.Endpoint);

    private static void Send(DealerSocket socket, string[] frames)
    {
        var message = new NetMQMessage();
        foreach (var frame in frames)
        {
            message.Append(Encoding.UTF8.GetBytes(frame));
        }

        socket.SendMultipartMessage(message);
    }

    private static bool ReceiveUntil(DealerSocket socket, Func<List<string>, bool> match)
    {
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait; // as in ReceiveFrames
        while (socket.TryReceiveMultipartBytesBefore(until, ref frames!))
        {
            if (match(frames.Select(f => Encoding.UTF8.GetString(f)).ToList()))
            {
                return true;
            }
        }

        return false;
    }
}
