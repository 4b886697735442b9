using Courier.Protocol.Internal;
using NetMQ.Sockets;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A broker played frame by frame on a ROUTER against a real worker (the counterpart of <see cref="RawWorker"/>): it answers
/// the worker's 8/MMI probe as a Courier broker of a chosen version and then does only what the test tells it.
/// </summary>
internal static class RawBroker
{
    /// <summary>
    /// Takes the worker's probe, answers it with <paramref name="version"/>, and takes its READY. Returns the worker's
    /// routing id, the probe and the READY as they came.
    /// </summary>
    public static (byte[] Identity, List<byte[]> Probe, List<byte[]> Ready) Register(IRawRouter broker, string version, TimeSpan wait)
    {
        Assert.True(broker.TryReceive(wait, out var probe), "no probe");
        var identity = probe[0];
        broker.Send(identity, [], Ascii("MDPC01"), Ascii("mmi.courier"), Ascii("200"), Ascii(version));
        Assert.True(broker.TryReceive(wait, out var ready), "no READY");
        return (identity, probe, ready);
    }

    public static (byte[] Identity, List<byte[]> Probe, List<byte[]> Ready) Register(RouterSocket broker, string version, TimeSpan wait)
        => Register(new NetMqRawRouter(broker), version, wait);

    /// <summary>
    /// After a stopping worker's DISCONNECT: takes the probe by which it asks whether everything it sent was read (the
    /// next message it sends, docs/protocol.md §3) and answers it, as a Courier broker does.
    /// </summary>
    public static void AnswerReadReceipt(IRawRouter broker, string version, TimeSpan wait)
    {
        Assert.True(broker.TryReceive(wait, out var probe), "no probe after DISCONNECT");
        Assert.Equal("MDPC01 mmi.courier", $"{System.Text.Encoding.ASCII.GetString(probe[2])} {System.Text.Encoding.ASCII.GetString(probe[3])}");
        broker.Send(probe[0], [], Ascii("MDPC01"), Ascii("mmi.courier"), Ascii("200"), Ascii(version));
    }

    /// <summary>Sends the worker at <paramref name="identity"/> a Courier REQUEST for <paramref name="service"/>.</summary>
    public static void SendRequest(IRawRouter broker, byte[] identity, ulong token, string service, byte[] body)
    {
        var header = new byte[CourierWorkerFrame.MaxRequestLength];
        var length = CourierWorkerFrame.WriteRequest(header, token, Ascii(service));
        broker.Send(identity, header.AsSpan(0, length).ToArray(), body);
    }

    public static void SendRequest(RouterSocket broker, byte[] identity, ulong token, string service, byte[] body)
        => SendRequest(new NetMqRawRouter(broker), identity, token, service, body);

    private static byte[] Ascii(string text) => System.Text.Encoding.ASCII.GetBytes(text);
}
