using System.Text.Json;
using Microsoft.Extensions.Logging;
using Viper.Imaging;

namespace Viper.Studio.Api;

/// <summary>
/// Every failure of a request becomes {"error": "…"} with a 4xx for what the client sent and 500 for the rest — a
/// message the page can show, never a stack trace (that goes to the log).
/// </summary>
public sealed class ErrorHandling(RequestDelegate next, ILogger<ErrorHandling> log, ClientText clientText)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            (int status, string message) = e switch
            {
                ApiException api => (api.Status, api.Message),
                Jobs.JobQueue.QueueFullException full => (StatusCodes.Status429TooManyRequests, full.Message),
                BadHttpRequestException bad => (bad.StatusCode, bad.Message),
                ImageFormatException image => (StatusCodes.Status400BadRequest, image.Message),
                InvalidDataException or FormatException => (StatusCodes.Status400BadRequest, e.Message),
                _ => (StatusCodes.Status500InternalServerError, "internal error: " + e.Message),
            };
            if (status >= 500)
            {
                log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            }

            context.Response.Clear();
            await Write(context.Response, status, clientText.Redact(message));
        }
    }

    public static Task Write(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        return response.WriteAsync(JsonSerializer.Serialize(new { error = message }));
    }

    /// <summary>A JSON body of type <typeparamref name="T"/>; anything else is a 400 that says what was wrong.</summary>
    public static async Task<T> ReadJson<T>(HttpRequest request)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, "send the body as JSON with Content-Type: application/json");
        }

        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, new JsonSerializerOptions(JsonSerializerDefaults.Web), request.HttpContext.RequestAborted)
                ?? throw ApiException.BadRequest("the request body is empty; send a JSON object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest(Describe(e));
        }
    }

    /// <summary>A JSON error by field and problem: System.Text.Json's own message names CLR types, which a client has no use for.</summary>
    private static string Describe(JsonException e)
    {
        string field = e.Path is null or "$" ? "" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path.TrimStart('$');
        string where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
        return e.Message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal)
            ? field.Length > 0 ? $"{field}: the value has the wrong type{where}" : $"the request body must be a JSON object{where}"
            : $"the request body is not valid JSON{(field.Length > 0 ? $" at {field}" : "")}{where}";
    }
}
