namespace Courier.Serving.Internal;

/// <summary>
/// What a handler's run came to: the status to answer with, the body (or the error message as one frame), and the
/// encoded headers the handler set on its reply (empty for none).
/// </summary>
internal readonly record struct HandlerOutcome(int Status, IReadOnlyList<ReadOnlyMemory<byte>> Body, byte[]? Headers = null);
