namespace Courier.Json.Internal;

/// <summary>A typed handler could not read its request: answered 400 with this message, the handler never runs.</summary>
internal sealed class RequestContentException(string message, Exception? innerException = null) : Exception(message, innerException);
