using System.Text;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>A real <see cref="Client.CourierClient"/> against a broker played by a raw ROUTER socket that speaks courier/3.</summary>
public sealed class ClientBatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Client_takes_replies_from_one_batch_each_to_its_own_request()
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        await using var client = TestServer.Client($"tcp://127.0.0.1:{port}", o => o with { Timeout = TimeSpan.FromSeconds(20) });

        var tasks = Enumerable.Range(0, 10).Select(i => client.RequestAsync(i == 3 ? "missing" : "upper", $"req {i}")).ToList();

        var frames = Receive(broker);
        Assert.Equal(("mmi.courier", "courier/5"), (Encoding.UTF8.GetString(frames[3]), Encoding.UTF8.GetString(frames[4])));
        var identity = frames[0];
        Send(broker, identity, [[], "MDPC01"u8.ToArray(), "mmi.courier"u8.ToArray(), "200"u8.ToArray(), "courier/3"u8.ToArray()]);

        // However the client packed them (batches, or single CURC02 requests), answer all in one batch.
        var requests = new List<(ulong Id, string Service, string Body)>();
        while (requests.Count < tasks.Count)
        {
            frames = Receive(broker);
            if (BatchFrames.Is(frames[2], 1))
            {
                requests.AddRange(BatchFrames.Parse(frames[2]));
            }
            else
            {
                requests.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)), Encoding.UTF8.GetString(frames[2], 14, frames[2].Length - 14), Encoding.UTF8.GetString(frames[3])));
            }
        }

        var replies = requests.Select(r => r.Service == "upper" ? (r.Id, "200", r.Body.ToUpperInvariant()) : (r.Id, "404", $"no service '{r.Service}'"));
        Send(broker, identity, [[], BatchFrames.Build(2, [.. replies, (ulong.MaxValue, "200", "a reply to nothing")])]);

        for (var i = 0; i < tasks.Count; i++)
        {
            if (i == 3)
            {
                var error = await Assert.ThrowsAsync<CourierRemoteException>(() => tasks[i]);
                Assert.Equal((404, "no service 'missing'"), (error.StatusCode, error.RemoteMessage));
            }
            else
            {
                Assert.Equal($"REQ {i}", (await tasks[i]).BodyText);
            }
        }
    }

    private static List<byte[]> Receive(RouterSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(Wait, ref frames!), "nothing from the client");
        return frames;
    }

    private static void Send(RouterSocket socket, byte[] identity, byte[][] frames)
    {
        var message = new NetMQMessage();
        message.Append(identity);
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        socket.SendMultipartMessage(message);
    }
}
