using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;

namespace Courier.Json.Internal;

/// <summary>
/// The one place typed requests and replies become bytes and back: one UTF-8 JSON frame. When requests and replies
/// carry headers, this is also where <c>content-type: application/json</c> is written and read.
/// </summary>
internal static class JsonBody
{
    public static ReadOnlyMemory<byte>[] Encode<T>(T value, JsonTypeInfo<T> type) => [JsonSerializer.SerializeToUtf8Bytes(value, type)];

    /// <summary>
    /// Reads a request's body; a body that is not <typeparamref name="T"/> as JSON is the caller's error: answered 400
    /// with the parser's complaint (which quotes no more of the body than a position), the handler never runs.
    /// </summary>
    public static T DecodeRequest<T>(CourierRequest request, JsonTypeInfo<T> type)
    {
        if (request.Frames.Count > 1)
        {
            throw new CourierServiceException(CourierStatus.BadRequest, $"the request has {request.Frames.Count} frames; a JSON request is one frame holding {type.Type.Name} as JSON");
        }

        try
        {
            return JsonSerializer.Deserialize(request.Body.Span, type)!;
        }
        catch (JsonException ex)
        {
            throw new CourierServiceException(CourierStatus.BadRequest, $"the request body is not valid JSON for {type.Type.Name}: {ex.Message}");
        }
    }

    /// <summary>Reads a reply's body; one that is not <typeparamref name="T"/> as JSON fails the request with a <see cref="CourierSerializationException"/>.</summary>
    public static T DecodeReply<T>(CourierReply reply, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(reply.Body.Span, type)!;
        }
        catch (JsonException ex)
        {
            throw new CourierSerializationException(reply.Service, type.Type, ex);
        }
    }

    /// <summary>The metadata <paramref name="context"/> generated for <typeparamref name="T"/>, or an error that says how to add it.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>(JsonSerializerContext context, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(context, parameterName);
        return context.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
            ?? throw new ArgumentException($"{context.GetType().Name} has no JSON metadata for {typeof(T).Name}: add [JsonSerializable(typeof({typeof(T).Name}))] to it.", parameterName);
    }
}
