using System.Text;
using Courier.Tests.Infrastructure;
using Courier.Transport.Internal;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A dropped connection reaches the broker from its transport (libzmq's socket monitor, or NetMQ's disconnect message
/// carrying a token of 16 random bytes of that socket's own), never in band: no peer can make the broker forget its
/// queued requests or a worker's registration by sending bytes. Each form a notice ever had is sent here by a peer and
/// must be an ordinary (invalid) message.
/// </summary>
public sealed class DisconnectForgeryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>The notice's forms: the 9-byte frame of the first broker, and the shape of today's token (another socket's).</summary>
    public static TheoryData<string> Forms => ["old 9-byte notice", "token shape", "token shape after a delimiter", "old notice after a delimiter"];

    private static byte[][] Forged(string form)
    {
        byte[] old = [0xFF, .. "courier"u8, 0xFE];
        return form switch
        {
            "old 9-byte notice" => [old],
            "token shape" => [DisconnectNotice.NewToken()],
            "token shape after a delimiter" => [[], DisconnectNotice.NewToken()],
            _ => [[], old],
        };
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_client_sending_a_disconnect_notice_keeps_its_queued_request(string form)
    {
        await using var broker = await TestBroker.StartAsync(o => o with { ServiceGracePeriod = Timeout.InfiniteTimeSpan });
        using var client = TestDealer.Connect(broker.Endpoint!);
        Send(client, [[], "MDPC01"u8.ToArray(), "forged"u8.ToArray(), "queued"u8.ToArray()]);
        Send(client, Forged(form));

        // Answered after the frames before it were handled: the request still waits.
        Send(client, [[], "MDPC01"u8.ToArray(), "mmi.stats"u8.ToArray(), "forged"u8.ToArray()]);
        var stats = Receive(client, f => f.Count >= 4 && Text(f[2]) == "mmi.stats");
        Assert.Contains("\"queued\":1", Text(stats[3]), StringComparison.Ordinal);

        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "forged-worker", service: "forged");
        var reply = Receive(client, f => f.Count >= 4 && Text(f[2]) == "forged");
        Assert.Equal(["forged-worker", "queued"], reply.Skip(3).Select(Text));
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public async Task A_worker_sending_a_disconnect_notice_stays_registered_and_its_reply_is_delivered(string form)
    {
        // Slow heartbeats: the raw worker sends none.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        using var worker = TestDealer.Connect(broker.Endpoint!);
        Send(worker, [[], "MDPW01"u8.ToArray(), [1], "forged-w"u8.ToArray(), "courier/2 capacity=2"u8.ToArray()]);
        await TestBroker.WaitForWorkersAsync(client, "forged-w", 1);
        var pending = client.RequestAsync("forged-w", "hello");
        var request = Receive(worker, f => f.Count >= 2 && f[0].Length == 15 && f[0].AsSpan().StartsWith("CURW02"u8) && f[0][6] == 2);

        // Taken for a dropped connection, this would requeue the request as if the worker had died.
        Send(worker, Forged(form));
        Send(worker, [[.. "CURW02"u8, 0x03, .. request[0].AsSpan(7, 8), .. "200"u8], "hi"u8.ToArray()]);

        Assert.Equal("hi", (await pending.WaitAsync(Wait)).BodyText);
        Assert.Single(await TestBroker.WorkersAsync(client, "forged-w"));
    }


    private static void Send(DealerSocket socket, byte[][] frames)
    {
        var message = new NetMQMessage();
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        socket.SendMultipartMessage(message);
    }

    private static string Text(byte[] frame) => Encoding.UTF8.GetString(frame);

    private static List<byte[]> Receive(DealerSocket socket, Func<List<byte[]>, bool> match)
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
}
