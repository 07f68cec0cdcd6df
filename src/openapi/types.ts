/**
 * The small part of the OpenAPI 3.1 object model this package writes. Kept
 * loose on purpose (documents are plain JSON); the structure tests check the
 * result, not these types.
 */

/** A JSON Schema (draft 2020-12, the OpenAPI 3.1 dialect) or a `$ref`. */
export type JsonSchema = { [keyword: string]: unknown };

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
export const HTTP_METHODS: readonly HttpMethod[] = ['get', 'put', 'post', 'delete', 'patch'];

export interface Reference {
  $ref: string;
  /** OpenAPI 3.1 lets a reference override the target's description. */
  description?: string;
}

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header';
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface MediaTypeObject {
  schema: JsonSchema;
}

export interface HeaderObject {
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject | Reference>;
  content?: Record<string, MediaTypeObject>;
}

export interface RequestBodyObject {
  description?: string;
  required: boolean;
  content: Record<string, MediaTypeObject>;
}

export interface OperationObject {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  security: Record<string, string[]>[];
  parameters?: (ParameterObject | Reference)[];
  requestBody?: RequestBodyObject;
  responses: Record<string, ResponseObject | Reference>;
  callbacks?: Record<string, Record<string, PathItemObject | Reference>>;
}

/** `$ref`: a path item may point at `components.pathItems` (OpenAPI 3.1). */
export type PathItemObject = Partial<Record<HttpMethod, OperationObject>> & { $ref?: string };

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string; license?: { name: string; identifier: string } };
  jsonSchemaDialect: string;
  servers?: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItemObject>;
  webhooks: Record<string, PathItemObject>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, ParameterObject>;
    headers: Record<string, HeaderObject>;
    securitySchemes: Record<string, JsonSchema>;
    pathItems: Record<string, PathItemObject>;
  };
}
