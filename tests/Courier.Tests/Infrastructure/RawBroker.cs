using Courier.Protocol.Internal;
using NetMQ;
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
    public static (byte[] Identity, List<byte[]> Probe, List<byte[]> Ready) Register(RouterSocket broker, string version, TimeSpan wait)
    {
        var probe = new List<byte[]>();
        Assert.True(broker.TryReceiveMultipartBytes(wait, ref probe!), "no probe");
        var identity = probe[0];
        broker.SendMoreFrame(identity).SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("mmi.courier").SendMoreFrame("200").SendFrame(version);
        var ready = new List<byte[]>();
        Assert.True(broker.TryReceiveMultipartBytes(wait, ref ready!), "no READY");
        return (identity, probe, ready);
    }

    /// <summary>Sends the worker at <paramref name="identity"/> a Courier REQUEST for <paramref name="service"/>.</summary>
    public static void SendRequest(RouterSocket broker, byte[] identity, ulong token, string service, byte[] body)
    {
        var header = new byte[CourierWorkerFrame.MaxRequestLength];
        var length = CourierWorkerFrame.WriteRequest(header, token, System.Text.Encoding.ASCII.GetBytes(service));
        broker.SendMoreFrame(identity).SendMoreFrame(header.AsSpan(0, length).ToArray()).SendFrame(body);
    }
}
