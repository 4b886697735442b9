using System.Diagnostics;
using Courier.Transport.Internal.Native;

namespace Courier.Transport.Internal.Zmtp;

/// <summary>
/// A closed connection's last bytes, written on for <see cref="TransportOptions.Linger"/> (as libzmq keeps a closed
/// socket's messages for its linger): it writes what is left, then half-closes (<c>shutdown(SHUT_WR)</c>, the peer
/// reads to the end of the stream) and reads and drops what arrives until the peer closes too. A connection closed with
/// input unread, or that receives input once closed, is reset, and the kernel then drops what it had not yet sent: the
/// last replies a worker wrote would go with it. Done once the peer has closed, on an error, or at the deadline: a peer
/// that never reads or never closes holds the descriptor and the unwritten bytes no longer than the linger. Loop thread
/// only.
/// </summary>
internal sealed class ZmtpLinger(int descriptor, ZmtpOutbound outbound, long deadline)
{
    private bool _halfClosed;

    /// <summary>What to wait for: input (the peer's data, or its end of stream) always, output while bytes are left.</summary>
    public short PollEvents => (short)(LibZmq.PollIn | (_halfClosed ? 0 : LibC.PollOut));

    /// <summary>Whether the linger is over by <paramref name="now"/> (<see cref="Stopwatch"/> ticks).</summary>
    public bool Expired(long now) => now >= deadline;

    /// <summary>Starts it: writes what the kernel takes now. False when there is nothing to wait for (the connection failed).</summary>
    public bool Begin() => Step(LibC.PollOut);

    /// <summary>The descriptor was ready with <paramref name="events"/>: writes and reads on. False once it is done.</summary>
    public bool Step(short events)
    {
        if ((events & LibC.PollErr) != 0)
        {
            return false;
        }

        if (!_halfClosed)
        {
            if (outbound.WriteTo(descriptor) < 0)
            {
                return false;
            }

            if (outbound.Bytes == 0)
            {
                Tcp.ShutdownWrite(descriptor);
                _halfClosed = true;
            }
        }

        return DiscardInput(descriptor) && (events & LibC.PollHup) == 0;
    }

    /// <summary>Reads and drops what the peer sent on <paramref name="descriptor"/>, a bounded amount per call. False at the end of the stream or on an error.</summary>
    public static bool DiscardInput(int descriptor)
    {
        Span<byte> sink = stackalloc byte[4096];
        for (var i = 0; i < 16; i++)
        {
            var read = Tcp.Receive(descriptor, sink);
            if (read == -Tcp.EAgain)
            {
                return true;
            }

            if (read <= 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The loop is ending: every lingering connection of <paramref name="dealers"/> is served together, in one poll, until
    /// each is done or past its deadline (so the wait is the longest linger's, and one peer that never reads costs the
    /// others nothing).
    /// </summary>
    public static unsafe void LingerOut(IReadOnlyList<ZmtpDealer> dealers)
    {
        var lingering = dealers.Where(d => d.Lingering).ToList();
        var fds = new PollFd[lingering.Count];
        while (lingering.Count > 0)
        {
            var now = Stopwatch.GetTimestamp();
            lingering.RemoveAll(d => !d.LingerTick(now));
            if (lingering.Count == 0)
            {
                return;
            }

            for (var i = 0; i < lingering.Count; i++)
            {
                fds[i] = new PollFd { Fd = lingering[i].Descriptor, Events = lingering[i].PollEvents };
            }

            fixed (PollFd* items = fds)
            {
                _ = LibC.poll(items, (nuint)lingering.Count, 50);
            }

            for (var i = lingering.Count - 1; i >= 0; i--)
            {
                if (fds[i].ReturnedEvents != 0)
                {
                    lingering[i].OnLingerEvents(fds[i].ReturnedEvents);
                }

                if (!lingering[i].Lingering)
                {
                    lingering.RemoveAt(i);
                }
            }
        }
    }
}
