using System.Buffers.Binary;
using System.Text;
using Courier.Client;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// libzmq redials a dropped connection by itself, and the client may not notice: the peer it reaches then may be a
/// restarted one (or another behind a proxy) that has no memory of what was sent before (docs/protocol.md §2, Negotiation;
/// Delivery guarantees).
/// </summary>
public sealed class PeerIncarnationTests
{
    private static readonly byte[] Before = [1, 1, 1, 1, 1, 1, 1, 1];
    private static readonly byte[] After = [2, 2, 2, 2, 2, 2, 2, 2];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_outstanding_when_its_peer_restarts_is_sent_again_only_if_idempotent(bool idempotent)
    {
        var first = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(1), Retries = 5 });
        var call = client.RequestAsync("pay", "10 EUR", CourierRequestOptions.Default with { Idempotent = idempotent });

        var request = Receive(first);
        while (IsNegotiation(request))
        {
            // Answered as often as asked (a transport may send it again as its connection completes).
            RawServer.AnswerProbe(first, request[0], "courier/3", Before);
            request = Receive(first);
        }

        Assert.Equal("pay", Encoding.ASCII.GetString(request[2].AsSpan(14)));

        // The peer restarts on the same port, having run the request or not: nobody can say.
        first.Dispose();
        using var second = new RouterSocket();
        second.Options.Linger = TimeSpan.Zero;
        await Poll.UntilAsync(() =>
        {
            try
            {
                second.Bind(endpoint); // once the first socket has let the port go
                return true;
            }
            catch (AddressAlreadyInUseException)
            {
                return false;
            }
        }, what: "the port free again");

        // At the attempt's timeout the client probes the connection (redialled by libzmq meanwhile): the new peer
        // answers as another incarnation.
        var liveness = Receive(second);
        var seen = new List<string>();
        while (!IsProbe(liveness))
        {
            seen.Add(Encoding.ASCII.GetString(liveness[2].AsSpan(14)));
            liveness = Receive(second);
        }

        var answer = new byte[17];
        liveness[2].AsSpan(0, 14).CopyTo(answer);
        "200"u8.CopyTo(answer.AsSpan(14));
        second.SendMultipartMessage(new NetMQMessage([new NetMQFrame(liveness[0]), NetMQFrame.Empty, new NetMQFrame(answer), new NetMQFrame("courier/3"u8.ToArray()), new NetMQFrame(After)]));

        if (idempotent)
        {
            // Safe to repeat: it goes to the new peer (on a fresh connection: the redialled one is retired), which answers it.
            var again = Receive(second);
            while (IsProbe(again) || IsNegotiation(again))
            {
                if (IsNegotiation(again))
                {
                    RawServer.AnswerProbe(second, again[0], "courier/3", After);
                }

                again = Receive(second);
            }

            var reply = new byte[17];
            again[2].AsSpan(0, 14).CopyTo(reply);
            "200"u8.CopyTo(reply.AsSpan(14));
            second.SendMultipartMessage(new NetMQMessage([new NetMQFrame(again[0]), NetMQFrame.Empty, new NetMQFrame(reply), new NetMQFrame("paid"u8.ToArray())]));
            Assert.Equal("paid", (await call.WaitAsync(TimeSpan.FromSeconds(20))).BodyText);
            return;
        }

        // At most once: never sent to the new peer, and its caller told that it may or may not have run.
        await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => call.WaitAsync(TimeSpan.FromSeconds(20)));
        var frames = new List<byte[]>();
        while (second.TryReceiveMultipartBytes(TimeSpan.FromSeconds(1), ref frames!))
        {
            if (!IsProbe(frames) && !IsNegotiation(frames))
            {
                seen.Add(Encoding.ASCII.GetString(frames[2].AsSpan(14)));
            }
        }

        Assert.Empty(seen);
    }

    private static bool IsNegotiation(List<byte[]> frames) => frames.Count >= 3 && frames[2].AsSpan().SequenceEqual("MDPC01"u8);

    private static bool IsProbe(List<byte[]> frames)
        => frames.Count >= 3 && frames[2].Length >= 14 && BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)) >= 1UL << 63;

    private static List<byte[]> Receive(RouterSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "nothing received");
        return frames;
    }
}
