using Courier.Client;
using Courier.Protocol.Internal;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A worker played frame by frame on a DEALER: it registers with the capability it is given and then does only what the
/// test tells it (no heartbeats, no replies of its own), so a test can make it stall, refuse or leave at a chosen moment.
/// </summary>
internal sealed class RawWorker : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly DealerSocket _socket = new();

    private RawWorker(string endpoint)
    {
        _socket.Options.Linger = TimeSpan.Zero;
        _socket.Connect(endpoint);
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/>, sends READY for <paramref name="service"/> with <paramref name="capability"/>
    /// (none: a plain 7/MDP READY), and waits until the broker lists it.
    /// </summary>
    public static async Task<RawWorker> RegisterAsync(string endpoint, CourierClient client, string service, string? capability)
    {
        var worker = new RawWorker(endpoint);
        var ready = worker._socket.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]);
        if (capability is null)
        {
            ready.SendFrame(service);
        }
        else
        {
            ready.SendMoreFrame(service).SendFrame(capability);
        }

        await TestBroker.WaitForWorkersAsync(client, service, 1);
        return worker;
    }

    /// <summary>The next Courier REQUEST sent to it (skipping heartbeats): its 8-byte token.</summary>
    public byte[] ReceiveRequest() => Receive(f => f.Count >= 2 && f[0].AsSpan().StartsWith("CURW0"u8) && f[0][6] == MdpWorker.Request, "a request")[0].AsSpan(7, 8).ToArray();

    /// <summary>The next plain 7/MDP REQUEST sent to it (<c>"", MDPW01, 0x02, client, "", body…</c>), skipping heartbeats.</summary>
    public void ReceivePlainRequest()
        => Receive(f => f.Count >= 6 && f[1].AsSpan().SequenceEqual("MDPW01"u8) && f[2] is [MdpWorker.Request], "a plain request");

    /// <summary>Waits for a message that <paramref name="match"/> accepts, skipping the others.</summary>
    public List<byte[]> Receive(Func<List<byte[]>, bool> match, string what)
    {
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + Wait;
        do
        {
            Assert.True(_socket.TryReceiveMultipartBytesBefore(until, ref frames!), $"the raw worker got no {what}");
        }
        while (!match(frames));

        return frames;
    }

    /// <summary>DISCONNECT, ending <c>"drained"</c> when <paramref name="drained"/>.</summary>
    public void SayDisconnect(bool drained)
    {
        var disconnect = _socket.SendMoreFrameEmpty().SendMoreFrame("MDPW01");
        if (drained)
        {
            disconnect.SendMoreFrame([MdpWorker.Disconnect]).SendFrame("drained");
        }
        else
        {
            disconnect.SendFrame([MdpWorker.Disconnect]);
        }
    }

    /// <summary>A Courier REPLY (<c>"CURW02"</c>+0x03+token+status) for <paramref name="token"/>.</summary>
    public void Reply(byte[] token, string status, string body)
        => _socket.SendMoreFrame([.. "CURW02"u8, MdpWorker.Reply, .. token, .. System.Text.Encoding.ASCII.GetBytes(status)]).SendFrame(body);

    public void Dispose() => _socket.Dispose();
}
