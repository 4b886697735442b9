using Courier.Transport.Internal;

namespace Courier.Protocol.Internal;

/// <summary>What a client receives from its server or broker.</summary>
internal enum ClientMessageKind
{
    /// <summary>Neither a 7/MDP nor a Courier reply.</summary>
    Unexpected,

    /// <summary><c>"", "CURC02"+id+status, body…</c>: a Courier reply, matched by its request id.</summary>
    CourierReply,

    /// <summary><c>"", "CURC05"+0x02+id+status+headers, body…</c>: a courier/5 reply with headers.</summary>
    Courier5Reply,

    /// <summary><c>"", "CURB03"+0x02+records</c>: a batch of Courier replies (docs/protocol.md §6).</summary>
    ReplyBatch,

    /// <summary><c>"", "MDPC01", service, body…</c>: a 7/MDP reply (the probe's answer among them).</summary>
    MdpReply,
}

internal static class ClientInbound
{
    public static ClientMessageKind Classify(MessageFrames message)
    {
        if (message.Count < 2 || message.Length(0) != 0)
        {
            return ClientMessageKind.Unexpected;
        }

        if (message.Length(1) == CourierFrame.ReplyLength && CourierFrame.Is(message[1]))
        {
            return ClientMessageKind.CourierReply;
        }

        if (message.Length(1) >= CourierFrame5.ReplyFixedLength && CourierFrame5.Is(message[1], CourierFrame5.Reply))
        {
            return ClientMessageKind.Courier5Reply;
        }

        if (message.Count == 2 && Batch.Is(message[1], Batch.ClientReply))
        {
            return ClientMessageKind.ReplyBatch;
        }

        return message.Count >= 3 && message[1].SequenceEqual(Mdp.ClientHeader) ? ClientMessageKind.MdpReply : ClientMessageKind.Unexpected;
    }
}
