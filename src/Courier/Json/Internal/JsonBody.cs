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
    /// <summary>The header key of a body's content type (docs/protocol.md §8).</summary>
    public const string ContentTypeHeader = "content-type";

    /// <summary>What a typed request carries: <c>content-type: application/json</c> (shared, read-only).</summary>
    public static CourierRequestOptions RequestOptions { get; } = CourierRequestOptions.Default with
    {
        Headers = CourierHeaders.Single(ContentTypeHeader, CourierJson.ContentType),
    };

    public static ReadOnlyMemory<byte>[] Encode<T>(T value, JsonTypeInfo<T> type) => [JsonSerializer.SerializeToUtf8Bytes(value, type)];

    /// <summary>
    /// Refuses a request that says its body is something other than JSON (answered 400, the handler does not run). One
    /// that says nothing is taken as JSON: a stock peer, or one from before courier/5, sends no headers.
    /// </summary>
    public static void CheckContentType(CourierRequest request)
    {
        if (request.Headers.TryGetValue(ContentTypeHeader, out var contentType) && !IsJson(contentType))
        {
            var shown = contentType.Length > 64 ? contentType[..64] + "…" : contentType;
            throw new CourierServiceException(
                CourierStatus.BadRequest, $"the request's content-type is '{shown}'; this service takes {CourierJson.ContentType}");
        }
    }

    /// <summary>
    /// <c>application/json</c> or a <c>+json</c> type (<c>application/problem+json</c>), any case, with or without
    /// parameters (<c>; charset=utf-8</c>).
    /// </summary>
    public static bool IsJson(string contentType)
    {
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType : contentType[..semicolon]).AsSpan().Trim();
        return mediaType.Equals(CourierJson.ContentType, StringComparison.OrdinalIgnoreCase)
            || (mediaType.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

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
