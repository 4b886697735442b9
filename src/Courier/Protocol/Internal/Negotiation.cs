using Courier.Client;

namespace Courier.Protocol.Internal;

/// <summary>What a connection has learned of its peer: whether it speaks Courier, and whether it takes batches.</summary>
internal enum PeerMode
{
    /// <summary>The probe is out and unanswered: nothing but the probe may be sent.</summary>
    Probing,

    /// <summary>Courier framing (courier/2 or later).</summary>
    Courier,

    /// <summary>Plain 7/MDP: a third-party peer, or one that did not answer the probe in time.</summary>
    Plain,
}

/// <summary>
/// Protocol negotiation for one connection, used by the client and the worker alike: with <see cref="ClientProtocol.Auto"/>
/// an 8/MMI probe (<c>mmi.courier</c>, offering courier/3) goes first and its answer decides; otherwise the mode is
/// set without asking. Lives as long as its connection. Loop thread only.
/// </summary>
internal sealed class Negotiation
{
    /// <summary>The probe: a 7/MDP client request to <c>mmi.courier</c> whose body offers courier/3.</summary>
    public static readonly ReadOnlyMemory<byte>[] ProbeFrames = [Mdp.Empty, Mdp.ClientHeader, ProtocolVersions.ProbeServiceBytes, ProtocolVersions.Courier3];

    /// <summary>Starts negotiating; when the mode is <see cref="PeerMode.Probing"/>, send <see cref="ProbeFrames"/> and wait until <paramref name="probeDeadline"/>.</summary>
    public Negotiation(ClientProtocol protocol, long probeDeadline)
    {
        Mode = protocol switch
        {
            ClientProtocol.Courier => PeerMode.Courier,
            ClientProtocol.Mdp => PeerMode.Plain,
            _ => PeerMode.Probing,
        };
        ProbeDeadline = Mode == PeerMode.Probing ? probeDeadline : long.MaxValue;
    }

    public PeerMode Mode { get; private set; }

    /// <summary>The peer answered courier/3: requests and replies may travel in batches.</summary>
    public bool PeerBatches { get; private set; }

    /// <summary>When an unanswered probe gives up; <see cref="long.MaxValue"/> when none is out.</summary>
    public long ProbeDeadline { get; private set; }

    /// <summary>True for the answer to a probe: <c>"", "MDPC01", "mmi.courier", …</c>.</summary>
    public static bool IsProbeAnswer(IReadOnlyList<byte[]> frames)
        => frames.Count >= 3 && frames[0].Length == 0 && frames[1].AsSpan().SequenceEqual(Mdp.ClientHeader)
            && frames[2].AsSpan().SequenceEqual(ProtocolVersions.ProbeServiceBytes);

    /// <summary>
    /// Which Courier version a probe answer (<c>"", "MDPC01", "mmi.courier", status, body</c>) names: 3, 2, or 0 when
    /// the peer does not speak Courier.
    /// </summary>
    public static int VersionOf(IReadOnlyList<byte[]> answer)
        => answer.Count < 5 || StatusFrames.Parse(answer[3]) != CourierStatus.Ok ? 0 : ProtocolVersions.Of(answer[4]);

    /// <summary>Takes the probe's answer: the mode it decides. Returns the version the peer named.</summary>
    public int Answered(IReadOnlyList<byte[]> answer)
    {
        var version = VersionOf(answer);
        Mode = version >= 2 ? PeerMode.Courier : PeerMode.Plain;
        PeerBatches = version >= 3;
        ProbeDeadline = long.MaxValue;
        return version;
    }

    /// <summary>Settles on <paramref name="mode"/> without (or without waiting for) an answer: a probe that timed out.</summary>
    public void Settle(PeerMode mode)
    {
        Mode = mode;
        ProbeDeadline = long.MaxValue;
    }
}
