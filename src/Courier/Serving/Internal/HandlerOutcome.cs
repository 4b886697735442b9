namespace Courier.Serving.Internal;

/// <summary>What a handler's run came to: the status to answer with and the body (or the error message as one frame).</summary>
internal readonly record struct HandlerOutcome(int Status, IReadOnlyList<ReadOnlyMemory<byte>> Body);
