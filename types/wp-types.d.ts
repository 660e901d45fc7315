/**
 * Stand-in for the `wp-types` package when type-checking. wp-types publishes its types as a .ts
 * source file (index.ts) with enums, which `tsc` checks even with skipLibCheck and which fails under
 * this repo's verbatimModuleSyntax. Only wordpress-api-client's declarations import it (for the
 * shapes of REST objects we never read through them), so loose object types are enough.
 * tsconfig.json "paths" maps `wp-types` here; nothing at run time uses it.
 */
type RestObject = { [key: string]: unknown; id: number };
export type WP_Post_Status_Name = string;
export type WP_Post_Type_Name = string;
export type WP_REST_API_Application_Password = { [key: string]: unknown };
export type WP_REST_API_Attachment = RestObject;
export type WP_REST_API_Block = RestObject;
export type WP_REST_API_Block_Directory_Item = { [key: string]: unknown };
export type WP_REST_API_Block_Type = { [key: string]: unknown };
export type WP_REST_API_Category = RestObject;
export type WP_REST_API_Comment = RestObject;
export type WP_REST_API_Post = RestObject;
export type WP_REST_API_Rendered_Block = { [key: string]: unknown };
export type WP_REST_API_Search_Result = RestObject;
export type WP_REST_API_Settings = { [key: string]: unknown };
export type WP_REST_API_Status = { [key: string]: unknown };
export type WP_REST_API_Tag = RestObject;
export type WP_REST_API_Taxonomy = { [key: string]: unknown };
export type WP_REST_API_Type = { [key: string]: unknown };
export type WP_REST_API_User = RestObject;
