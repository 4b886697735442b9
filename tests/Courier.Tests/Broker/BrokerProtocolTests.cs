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

    public int Port => int.Parse(Endpoint[(Endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    public async Task InitializeAsync()
    {
        Endpoint = Ports.FreeEndpoint();
        Process = ChildProcess.Start("broker", "--bind", Endpoint, "--heartbeat", "500ms");
        await Process.WaitForOutputAsync("listening");
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
        Assert.True(entry.GetProperty("courier").GetBoolean());

        var stats = await TestBroker.StatsAsync(client, "mmi-test");
        Assert.Equal((1, 0, 0, 1L, 0L), stats);
    }

    private DealerSocket Connect()
    {
        var socket = new DealerSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(broker.Endpoint);
        return socket;
    }

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
        while (socket.TryReceiveMultipartBytes(Wait, ref frames!))
        {
            if (match(frames.Select(f => Encoding.UTF8.GetString(f)).ToList()))
            {
                return true;
            }
        }

        return false;
    }
}
